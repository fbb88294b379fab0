#pragma once

#include <napi.h>

#include <string>

namespace rtb {

// A JS Error for a failed system call: message "<syscall>: <strerror> [(<detail>)]" with properties errno (positive
// number), code ("ENOENT"...), syscall and, when given, path.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& path = std::string());

}  // namespace rtb
