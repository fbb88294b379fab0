#pragma once

#include <napi.h>

namespace linuxfs {

// A JS Error for a failed system call, shaped like Node's own fs errors: message "<code>: <strerror>, <syscall>",
// with properties errno (positive), code ("ENOTSUP"...) and syscall.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall);

}  // namespace linuxfs
