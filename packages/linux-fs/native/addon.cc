// Entry point of the linux-fs addon: the Linux file calls Node.js has no binding for. Each function is a thin,
// synchronous wrapper of one or two system calls, except readXattrs, which runs in the thread pool (a FUSE view can
// take its time to answer).
#include <napi.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "dirstats.h"
#include "errors.h"
#include "xattrs.h"

namespace {

using linuxfs::ErrnoError;
using linuxfs::Xattr;
using linuxfs::XattrTarget;

// A path or name given as a Buffer, as a C string; false (with a TypeError thrown) if it holds a NUL.
bool BytesArg(const Napi::Value& value, std::string& out, const char* what) {
  Napi::Env env = value.Env();
  if (!value.IsBuffer()) {
    Napi::TypeError::New(env, std::string(what) + " must be a Buffer").ThrowAsJavaScriptException();
    return false;
  }
  auto buf = value.As<Napi::Buffer<char>>();
  out.assign(buf.Data(), buf.Length());
  if (out.find('\0') != std::string::npos) {
    Napi::TypeError::New(env, std::string(what) + " contains a NUL byte").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// An fd (a number) or a path (a Buffer).
bool TargetArg(const Napi::Value& value, XattrTarget& target) {
  if (value.IsNumber()) {
    target.fd = value.As<Napi::Number>().Int32Value();
    if (target.fd >= 0) return true;
  } else if (value.IsBuffer()) {
    return BytesArg(value, target.path, "path");
  }
  Napi::TypeError::New(value.Env(), "target must be an fd or a path Buffer").ThrowAsJavaScriptException();
  return false;
}

// The attributes packed in one Buffer (one allocation, however many there are; the JS side takes views of it): for
// each, the name's length (u16 LE), the name, the value's length (u32 LE), the value. Empty when there are none.
Napi::Value ToJs(Napi::Env env, const std::vector<Xattr>& attrs) {
  size_t size = 0;
  for (const Xattr& a : attrs) size += 2 + a.name.size() + 4 + a.value.size();
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, size);
  uint8_t* at = out.Data();
  for (const Xattr& a : attrs) {
    uint16_t n = static_cast<uint16_t>(a.name.size());
    uint32_t v = static_cast<uint32_t>(a.value.size());
    at[0] = n & 0xff;
    at[1] = n >> 8;
    std::memcpy(at + 2, a.name.data(), n);
    at += 2 + n;
    for (int i = 0; i < 4; i++) at[i] = (v >> (8 * i)) & 0xff;
    std::memcpy(at + 4, a.value.data(), v);
    at += 4 + v;
  }
  return out;
}

// readXattrsSync(target): the attributes packed (see ToJs).
Napi::Value ReadXattrsSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  XattrTarget target;
  if (!TargetArg(info[0], target)) return env.Undefined();
  std::vector<Xattr> attrs;
  const char* syscall = "";
  if (int err = linuxfs::ReadXattrs(target, attrs, syscall)) {
    ErrnoError(env, err, syscall).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return ToJs(env, attrs);
}

class ReadXattrsWorker : public Napi::AsyncWorker {
 public:
  ReadXattrsWorker(Napi::Function callback, XattrTarget target) : Napi::AsyncWorker(callback), target_(std::move(target)) {}

  void Execute() override { err_ = linuxfs::ReadXattrs(target_, attrs_, syscall_); }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_) {
      Callback().Call({ErrnoError(env, err_, syscall_).Value(), env.Undefined()});
    } else {
      Callback().Call({env.Null(), ToJs(env, attrs_)});
    }
  }

 private:
  XattrTarget target_;
  std::vector<Xattr> attrs_;
  const char* syscall_ = "";
  int err_ = 0;
};

// readXattrs(target, callback(err, packed)): readXattrsSync in the thread pool.
Napi::Value ReadXattrsAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  XattrTarget target;
  if (!TargetArg(info[0], target)) return env.Undefined();
  if (!info[1].IsFunction()) {
    Napi::TypeError::New(env, "callback must be a function").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  (new ReadXattrsWorker(info[1].As<Napi::Function>(), std::move(target)))->Queue();
  return env.Undefined();
}

// setXattr(target, name, value): fsetxattr on an fd; setxattr (following) on a path, for /proc/self/fd links.
Napi::Value SetXattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  XattrTarget target;
  std::string name;
  if (!TargetArg(info[0], target) || !BytesArg(info[1], name, "name")) return env.Undefined();
  if (!info[2].IsBuffer()) {
    Napi::TypeError::New(env, "value must be a Buffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto value = info[2].As<Napi::Buffer<char>>();
  int rc = target.fd >= 0 ? fsetxattr(target.fd, name.c_str(), value.Data(), value.Length(), 0)
                          : setxattr(target.path.c_str(), name.c_str(), value.Data(), value.Length(), 0);
  if (rc != 0) ErrnoError(env, errno, target.fd >= 0 ? "fsetxattr" : "setxattr").ThrowAsJavaScriptException();
  return env.Undefined();
}

// seek(fd, offset, hole): lseek with SEEK_HOLE (hole true) or SEEK_DATA; -1 when no data follows (ENXIO).
Napi::Value Seek(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "seek(fd, offset, hole)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  off_t offset = static_cast<off_t>(info[1].As<Napi::Number>().Int64Value());
  bool hole = info[2].ToBoolean().Value();
  off_t at = lseek(fd, offset, hole ? SEEK_HOLE : SEEK_DATA);
  if (at < 0) {
    if (errno == ENXIO) return Napi::Number::New(env, -1);
    ErrnoError(env, errno, "lseek").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(at));
}

// Where a file's data lies: [start, end) runs found with SEEK_DATA/SEEK_HOLE below `size`, at most `max` of them.
class ExtentsWorker : public Napi::AsyncWorker {
 public:
  ExtentsWorker(Napi::Function callback, int fd, off_t size, size_t max) : Napi::AsyncWorker(callback), fd_(fd), size_(size), max_(max) {}

  void Execute() override {
    for (off_t at = 0; at < size_;) {
      off_t start = lseek(fd_, at, SEEK_DATA);
      if (start < 0) {
        if (errno != ENXIO) err_ = errno;
        return;
      }
      if (start >= size_) return;
      off_t end = lseek(fd_, start, SEEK_HOLE);
      if (end < 0) {
        err_ = errno;
        return;
      }
      if (end > size_) end = size_;
      if (runs_.size() >= max_) {
        truncated_ = true;
        return;
      }
      runs_.emplace_back(start, end);
      at = end;
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_) {
      Callback().Call({ErrnoError(env, err_, "lseek").Value(), env.Undefined()});
      return;
    }
    if (truncated_) {
      Callback().Call({env.Null(), env.Null()});
      return;
    }
    Napi::Array out = Napi::Array::New(env, runs_.size() * 2);
    for (size_t i = 0; i < runs_.size(); i++) {
      out.Set(static_cast<uint32_t>(2 * i), Napi::Number::New(env, static_cast<double>(runs_[i].first)));
      out.Set(static_cast<uint32_t>(2 * i + 1), Napi::Number::New(env, static_cast<double>(runs_[i].second)));
    }
    Callback().Call({env.Null(), out});
  }

 private:
  int fd_;
  off_t size_;
  size_t max_;
  std::vector<std::pair<off_t, off_t>> runs_;
  bool truncated_ = false;
  int err_ = 0;
};

// dataExtents(fd, size, max, callback(err, flat | null)): [start0, end0, start1, end1, ...]; null past `max` runs.
Napi::Value DataExtents(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsFunction()) {
    Napi::TypeError::New(env, "dataExtents(fd, size, max, callback)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  off_t size = static_cast<off_t>(info[1].As<Napi::Number>().Int64Value());
  size_t max = info[2].As<Napi::Number>().Uint32Value();
  (new ExtentsWorker(info[3].As<Napi::Function>(), fd, size, max))->Queue();
  return env.Undefined();
}

// mknodAt(dirfd, name, mode, major, minor): mknodat(2); `mode` includes the type bits (S_IFIFO, S_IFCHR, S_IFBLK).
Napi::Value MknodAt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name;
  if (!info[0].IsNumber() || !BytesArg(info[1], name, "name")) return env.Undefined();
  if (!info[2].IsNumber() || !info[3].IsNumber() || !info[4].IsNumber()) {
    Napi::TypeError::New(env, "mknodAt(dirfd, name, mode, major, minor)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int dirfd = info[0].As<Napi::Number>().Int32Value();
  mode_t mode = static_cast<mode_t>(info[2].As<Napi::Number>().Uint32Value());
  dev_t dev = makedev(info[3].As<Napi::Number>().Uint32Value(), info[4].As<Napi::Number>().Uint32Value());
  if (mknodat(dirfd, name.c_str(), mode, dev) != 0) ErrnoError(env, errno, "mknodat").ThrowAsJavaScriptException();
  return env.Undefined();
}

// majorMinor(rdev): [major, minor] of a device number as stat reports it.
Napi::Value MajorMinor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  dev_t dev = static_cast<dev_t>(info[0].As<Napi::Number>().Int64Value());
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, major(dev)));
  out.Set(1u, Napi::Number::New(env, minor(dev)));
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("readXattrsSync", Napi::Function::New(env, ReadXattrsSync, "readXattrsSync"));
  exports.Set("readXattrs", Napi::Function::New(env, ReadXattrsAsync, "readXattrs"));
  exports.Set("setXattr", Napi::Function::New(env, SetXattr, "setXattr"));
  exports.Set("seek", Napi::Function::New(env, Seek, "seek"));
  exports.Set("dataExtents", Napi::Function::New(env, DataExtents, "dataExtents"));
  exports.Set("mknodAt", Napi::Function::New(env, MknodAt, "mknodAt"));
  exports.Set("listStats", Napi::Function::New(env, linuxfs::ListStats, "listStats"));
  exports.Set("majorMinor", Napi::Function::New(env, MajorMinor, "majorMinor"));
  return exports;
}

}  // namespace

NODE_API_MODULE(linux_fs, Init)
