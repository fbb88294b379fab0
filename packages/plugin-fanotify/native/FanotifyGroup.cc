#include "FanotifyGroup.h"

#include "EventParser.h"
#include "compat.h"
#include "errors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

namespace rtb {

namespace {

// The largest single event a FID-mode read can hold: metadata, three fid records with MAX_HANDLE_SZ handles and
// two names. A read shorter than the buffer by more than this means the kernel queue was empty.
constexpr size_t kMaxEventSize = 24 + 3 * (4 + 8 + 8 + 128) + 2 * 256;

// Failed reads (each one dropped event) reported per wakeup before yielding to the event loop.
constexpr int kMaxLostPerWakeup = 256;

}  // namespace

Napi::Function FanotifyGroup::Define(Napi::Env env) {
  return DefineClass(env, "FanotifyGroup",
                     {
                         InstanceMethod<&FanotifyGroup::Mark>("mark"),
                         InstanceMethod<&FanotifyGroup::Start>("start"),
                         InstanceMethod<&FanotifyGroup::Stop>("stop"),
                         InstanceMethod<&FanotifyGroup::Close>("close"),
                         InstanceMethod<&FanotifyGroup::RefHandle>("ref"),
                         InstanceMethod<&FanotifyGroup::UnrefHandle>("unref"),
                         InstanceAccessor<&FanotifyGroup::GetFd>("fd"),
                         InstanceAccessor<&FanotifyGroup::GetClosed>("closed"),
                     });
}

FanotifyGroup::FanotifyGroup(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FanotifyGroup>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber()) {
    Napi::TypeError::New(env, "FanotifyGroup(initFlags, eventFFlags, bufferSize, maxReads): numbers expected")
        .ThrowAsJavaScriptException();
    return;
  }
  const unsigned int flags = info[0].As<Napi::Number>().Uint32Value();
  const unsigned int eventFFlags = info[1].As<Napi::Number>().Uint32Value();
  const int64_t size = info[2].As<Napi::Number>().Int64Value();
  maxReads_ = info[3].As<Napi::Number>().Int32Value();
  if (size < 4096 || size > (64 << 20) || maxReads_ < 1) {
    Napi::RangeError::New(env, "bufferSize must be 4 KiB..64 MiB and maxReads at least 1").ThrowAsJavaScriptException();
    return;
  }
  bufferSize_ = static_cast<size_t>(size);
  fidMode_ = (flags & (FAN_REPORT_FID | FAN_REPORT_DIR_FID)) != 0;
  // The fd is read only on this thread, but it must never leak into children the daemon spawns (zfs, lsof).
  fd_ = fanotify_init(flags | FAN_NONBLOCK | FAN_CLOEXEC, eventFFlags);
  if (fd_ < 0) {
    ErrnoError(env, errno, "fanotify_init").ThrowAsJavaScriptException();
    return;
  }
  void* mem = nullptr;
  if (posix_memalign(&mem, 4096, bufferSize_) != 0) {
    ::close(fd_);
    fd_ = -1;
    Napi::Error::New(env, "out of memory for the fanotify read buffer").ThrowAsJavaScriptException();
    return;
  }
  buffer_ = static_cast<unsigned char*>(mem);
}

FanotifyGroup::~FanotifyGroup() {
  Release();
}

void FanotifyGroup::StopPolling() {
  if (poll_ != nullptr && polling_) uv_poll_stop(poll_);
  polling_ = false;
}

void FanotifyGroup::Release() {
  StopPolling();
  if (poll_ != nullptr) {
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  // uv_poll_stop has taken the fd out of epoll, so closing it now is safe.
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  free(buffer_);
  buffer_ = nullptr;
}

Napi::Value FanotifyGroup::Mark(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (fd_ < 0) {
    ErrnoError(env, EBADF, "fanotify_mark").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "mark(path, markFlags, mask): string and numbers expected").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const unsigned int markFlags = info[1].As<Napi::Number>().Uint32Value();
  const uint64_t mask = static_cast<uint64_t>(info[2].As<Napi::Number>().Int64Value());
  if (fanotify_mark(fd_, markFlags, mask, AT_FDCWD, path.c_str()) != 0) {
    ErrnoError(env, errno, "fanotify_mark", path).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

Napi::Value FanotifyGroup::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (fd_ < 0) {
    ErrnoError(env, EBADF, "uv_poll_start").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (info.Length() >= 1 && info[0].IsFunction()) {
    callback_ = Napi::Persistent(info[0].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "FanotifyGroup");
  }
  if (callback_.IsEmpty()) {
    Napi::TypeError::New(env, "start(callback): a function is needed the first time").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (poll_ == nullptr) {
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    int rc = uv_poll_init(loop, poll_, fd_);
    if (rc != 0) {
      delete poll_;
      poll_ = nullptr;
      ErrnoError(env, -rc, "uv_poll_init").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    poll_->data = this;
    if (unref_) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  }
  if (!polling_) {
    int rc = uv_poll_start(poll_, UV_READABLE, &FanotifyGroup::OnPoll);
    if (rc != 0) {
      ErrnoError(env, -rc, "uv_poll_start").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    polling_ = true;
  }
  return env.Undefined();
}

Napi::Value FanotifyGroup::Stop(const Napi::CallbackInfo& info) {
  StopPolling();
  return info.Env().Undefined();
}

Napi::Value FanotifyGroup::Close(const Napi::CallbackInfo& info) {
  Release();
  // Closed from inside its own callback: the async context is in use until Drain returns, which releases it.
  if (!delivering_) {
    callback_.Reset();
    context_.reset();
  }
  return info.Env().Undefined();
}

Napi::Value FanotifyGroup::RefHandle(const Napi::CallbackInfo& info) {
  unref_ = false;
  if (poll_ != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  return info.Env().Undefined();
}

Napi::Value FanotifyGroup::UnrefHandle(const Napi::CallbackInfo& info) {
  unref_ = true;
  if (poll_ != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  return info.Env().Undefined();
}

Napi::Value FanotifyGroup::GetFd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), fd_);
}

Napi::Value FanotifyGroup::GetClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), fd_ < 0);
}

void FanotifyGroup::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* self = static_cast<FanotifyGroup*>(handle->data);
  if (self != nullptr) self->Drain(status);
}

void FanotifyGroup::Drain(int status) {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Napi::Value error = env.Null();
  napi_value events;
  napi_create_array(env, &events);
  uint32_t count = 0;
  EventParser parser(env, fidMode_);
  if (status < 0) {
    error = ErrnoError(env, -status, "uv_poll").Value();
  } else {
    int lost = 0;
    for (int i = 0; i < maxReads_; i++) {
      ssize_t n = ::read(fd_, buffer_, bufferSize_);
      if (n < 0) {
        const int err = errno;
        if (err == EINTR) continue;
        if (err == EAGAIN) break;
        if (err == EBADF || err == EFAULT || err == EINVAL) {
          // The group itself is unusable (closed fd, bad buffer, or the kernel refuses the read): only these end it.
          error = ErrnoError(env, err, "read").Value();
          break;
        }
        // fd mode without FAN_REPORT_FD_ERROR: the kernel could not open an event's file (ENOENT on a file already
        // unlinked, ESTALE, EACCES, EMFILE, ...) and dropped that one event. Report the loss and keep reading; the
        // queue stays readable, so a long run of failures is capped here and continued on the next wakeup.
        parser.AppendLost(events, count, err);
        if (++lost >= kMaxLostPerWakeup) break;
        i--;
        continue;
      }
      if (n == 0) break;
      parser.Parse(buffer_, static_cast<size_t>(n), events, count);
      if (static_cast<size_t>(n) + kMaxEventSize < bufferSize_) break;
    }
  }
  if (count == 0 && error.IsNull()) return;
  if (!error.IsNull()) StopPolling();
  // Keep this object alive across the call: the callback may close it, or drop the last reference to it.
  Napi::Object self = Value();
  Napi::Function fn = callback_.Value();
  delivering_ = true;
  fn.MakeCallback(self, {error, Napi::Value(env, events)}, *context_);
  delivering_ = false;
  if (fd_ < 0) {
    callback_.Reset();
    context_.reset();
  }
  if (env.IsExceptionPending()) {
    Napi::Error thrown = env.GetAndClearPendingException();
    napi_fatal_exception(env, thrown.Value());
  }
}

}  // namespace rtb
