#include "errors.h"

#include <uv.h>

#include <cstring>

namespace rtb {

namespace {

// "ESTALE" for ESTALE: glibc knows every errno name; libuv's table lacks some that matter here (ESTALE, EXDEV).
std::string ErrnoName(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  if (const char* name = strerrorname_np(err)) return name;
#endif
  char buf[64];
  return uv_err_name_r(-err, buf, sizeof buf);
}

}  // namespace

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& path) {
  std::string message = std::string(syscall) + ": " + std::strerror(err);
  if (!path.empty()) message += " (" + path + ")";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("code", Napi::String::New(env, ErrnoName(err)));
  error.Set("syscall", Napi::String::New(env, syscall));
  if (!path.empty()) error.Set("path", Napi::String::New(env, path));
  return error;
}

}  // namespace rtb
