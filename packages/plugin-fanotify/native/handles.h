#pragma once

#include <napi.h>

namespace rtb {

// resolveHandle(mountFd, key) -> current absolute path of the directory (or file) a handle key names, through
// open_by_handle_at(mountFd, ..., O_PATH) and /proc/self/fd. Throws an errno error (ESTALE: it no longer exists).
Napi::Value ResolveHandle(const Napi::CallbackInfo& info);

// fsidOf(path) -> hex of statfs(path).f_fsid, in the byte order fanotify reports it (the prefix of a handle key).
Napi::Value FsidOf(const Napi::CallbackInfo& info);

// handleKeyOf(path) -> the handle key name_to_handle_at gives for a path (tests and cache seeding).
Napi::Value HandleKeyOf(const Napi::CallbackInfo& info);

}  // namespace rtb
