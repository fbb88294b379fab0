#pragma once

#include <napi.h>
#include <uv.h>

#include <cstddef>
#include <memory>

namespace rtb {

// One fanotify group (one fd from fanotify_init). The fd is non-blocking and watched with uv_poll on the JS thread;
// each wakeup drains up to `maxReads` reads into one JS array and makes one callback, so a burst costs one JS call
// per tens of thousands of events and no JS value is ever touched off the JS thread.
//
// JS: new FanotifyGroup(initFlags, eventFFlags, bufferSize, maxReads)
//     .mark(path, markFlags, mask)        fanotify_mark(fd, markFlags, mask, AT_FDCWD, path)
//     .start(callback(err, events))       start (or resume) delivery
//     .stop()                             pause delivery; the kernel keeps queueing
//     .close()                            stop, release the poll handle, close the fd (drops every mark)
//     .ref() / .unref()                   whether an active group keeps the event loop alive
//     .fd, .closed
class FanotifyGroup : public Napi::ObjectWrap<FanotifyGroup> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit FanotifyGroup(const Napi::CallbackInfo& info);
  ~FanotifyGroup() override;

 private:
  Napi::Value Mark(const Napi::CallbackInfo& info);
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value RefHandle(const Napi::CallbackInfo& info);
  Napi::Value UnrefHandle(const Napi::CallbackInfo& info);
  Napi::Value GetFd(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);

  static void OnPoll(uv_poll_t* handle, int status, int events);
  void Drain(int status);
  void StopPolling();
  void Release();

  int fd_ = -1;
  bool fidMode_ = false;
  bool polling_ = false;
  bool unref_ = false;
  bool delivering_ = false;
  size_t bufferSize_ = 0;
  int maxReads_ = 8;
  unsigned char* buffer_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
};

}  // namespace rtb
