#pragma once

#include <napi.h>

namespace linuxfs {

// listStats(dir): the names in a directory and each one's lstat, read in one call (see dirstats.cc).
Napi::Value ListStats(const Napi::CallbackInfo& info);

}  // namespace linuxfs
