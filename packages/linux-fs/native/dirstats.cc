// A directory's names and the lstat of each, in one call: opendir, readdir, and fstatat relative to the directory's
// fd. A scan of a large tree spends most of its time stating entries; this takes Node's per-call cost (a path
// string per entry, a Stats object per entry) out of it, and resolves each name from its directory, not from "/".
#include "dirstats.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "errors.h"

namespace linuxfs {

namespace {

// The fields of one entry in the Float64Array, in this order (the JS side reads them by the same numbers).
constexpr size_t kFields = 12;

double Ms(const struct timespec& t) {
  // As Node computes mtimeMs and ctimeMs, so that the two compare equal.
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

void Put(double* at, int err, const struct stat& st) {
  at[0] = err;
  if (err) return;
  at[1] = static_cast<double>(st.st_dev);
  at[2] = static_cast<double>(st.st_ino);
  at[3] = st.st_mode;
  at[4] = static_cast<double>(st.st_nlink);
  at[5] = st.st_uid;
  at[6] = st.st_gid;
  at[7] = static_cast<double>(st.st_rdev);
  at[8] = static_cast<double>(st.st_size);
  at[9] = static_cast<double>(st.st_blocks);
  at[10] = Ms(st.st_mtim);
  at[11] = Ms(st.st_ctim);
}

bool PathArg(const Napi::Value& value, std::string& out) {
  if (value.IsString()) {
    out = value.As<Napi::String>().Utf8Value();
  } else if (value.IsBuffer()) {
    auto buf = value.As<Napi::Buffer<char>>();
    out.assign(buf.Data(), buf.Length());
  } else {
    Napi::TypeError::New(value.Env(), "listStats(dir): dir must be a string or a Buffer").ThrowAsJavaScriptException();
    return false;
  }
  if (out.find('\0') == std::string::npos) return true;
  Napi::TypeError::New(value.Env(), "listStats(dir): dir contains a NUL byte").ThrowAsJavaScriptException();
  return false;
}

}  // namespace

// listStats(dir): [names, stats]. `names` is one Buffer of every name but "." and "..", each followed by a NUL, in
// the order readdir gave them; `stats` holds kFields numbers per name: 0 and the lstat, or the errno of an fstatat
// that failed (the entry vanished, or cannot be stat'ed). The directory is opened with O_NOFOLLOW: a symlink put in
// its place is not followed (ENOTDIR, as O_DIRECTORY refuses it first). Throws an fs-shaped error when it cannot be
// opened or read.
Napi::Value ListStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dir;
  if (!PathArg(info[0], dir)) return env.Undefined();
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    ErrnoError(env, errno, "open").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  DIR* d = fdopendir(fd);
  if (!d) {
    int err = errno;
    close(fd);
    ErrnoError(env, err, "fdopendir").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string names;
  std::vector<double> stats;
  struct stat st;
  int err = 0;
  for (;;) {
    errno = 0;
    struct dirent* e = readdir(d);
    if (!e) {
      err = errno;
      break;
    }
    const char* name = e->d_name;
    if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
    names.append(name);
    names.push_back('\0');
    size_t at = stats.size();
    stats.resize(at + kFields);
    Put(stats.data() + at, fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno, st);
  }
  closedir(d);
  if (err) {
    ErrnoError(env, err, "readdir").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Float64Array out = Napi::Float64Array::New(env, stats.size());
  if (!stats.empty()) std::memcpy(out.Data(), stats.data(), stats.size() * sizeof(double));
  Napi::Array pair = Napi::Array::New(env, 2);
  pair.Set(0u, Napi::Buffer<char>::Copy(env, names.data(), names.size()));
  pair.Set(1u, out);
  return pair;
}

}  // namespace linuxfs
