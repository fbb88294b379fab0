#include "errors.h"

#include <uv.h>

#include <cstring>
#include <string>

namespace linuxfs {

namespace {

// glibc knows every errno name; libuv's table lacks a few (ENODATA, ENOTSUP spelled EOPNOTSUPP).
std::string ErrnoName(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  if (const char* name = strerrorname_np(err)) return name;
#endif
  char buf[64];
  return uv_err_name_r(-err, buf, sizeof buf);
}

}  // namespace

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall) {
  std::string code = ErrnoName(err);
  Napi::Error error = Napi::Error::New(env, code + ": " + std::strerror(err) + ", " + syscall);
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("code", Napi::String::New(env, code));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

}  // namespace linuxfs
