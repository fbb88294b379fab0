#include "handles.h"

#include "EventParser.h"
#include "errors.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace rtb {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool DecodeHex(const std::string& text, std::vector<unsigned char>& out) {
  if (text.size() % 2 != 0) return false;
  out.resize(text.size() / 2);
  for (size_t i = 0; i < out.size(); i++) {
    int hi = HexValue(text[2 * i]);
    int lo = HexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

}  // namespace

Napi::Value ResolveHandle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsString()) {
    Napi::TypeError::New(env, "resolveHandle(mountFd, key): number and string expected").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const int mountFd = info[0].As<Napi::Number>().Int32Value();
  std::vector<unsigned char> key;
  // fsid (8) + handle type (4) + at least one handle byte
  if (!DecodeHex(info[1].As<Napi::String>().Utf8Value(), key) || key.size() < 13 || key.size() > 12 + MAX_HANDLE_SZ) {
    Napi::TypeError::New(env, "resolveHandle: not a handle key").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const size_t bytes = key.size() - 12;
  std::vector<unsigned char> storage(sizeof(struct file_handle) + bytes);
  auto* fh = reinterpret_cast<struct file_handle*>(storage.data());
  fh->handle_bytes = static_cast<unsigned int>(bytes);
  std::memcpy(&fh->handle_type, key.data() + 8, 4);
  std::memcpy(fh->f_handle, key.data() + 12, bytes);
  int fd = open_by_handle_at(mountFd, fh, O_PATH | O_CLOEXEC);
  if (fd < 0) {
    ErrnoError(env, errno, "open_by_handle_at").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char path[PATH_MAX];
  ssize_t n = readlink(link, path, sizeof path);
  int err = errno;
  close(fd);
  if (n < 0 || static_cast<size_t>(n) >= sizeof path) {
    ErrnoError(env, n < 0 ? err : ENAMETOOLONG, "readlink").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::String::New(env, path, static_cast<size_t>(n));
}

Napi::Value FsidOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "fsidOf(path): string expected").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  struct statfs st;
  if (statfs(path.c_str(), &st) != 0) {
    ErrnoError(env, errno, "statfs", path).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  static_assert(sizeof st.f_fsid == 8, "f_fsid is two 32-bit words");
  unsigned char raw[8];
  std::memcpy(raw, &st.f_fsid, 8);
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : raw) {
    out.push_back(hex[b >> 4]);
    out.push_back(hex[b & 15]);
  }
  return Napi::String::New(env, out);
}

Napi::Value HandleKeyOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "handleKeyOf(path): string expected").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  std::vector<unsigned char> storage(sizeof(struct file_handle) + MAX_HANDLE_SZ);
  auto* fh = reinterpret_cast<struct file_handle*>(storage.data());
  fh->handle_bytes = MAX_HANDLE_SZ;
  int mountId = 0;
  if (name_to_handle_at(AT_FDCWD, path.c_str(), fh, &mountId, 0) != 0) {
    ErrnoError(env, errno, "name_to_handle_at", path).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  struct statfs st;
  if (statfs(path.c_str(), &st) != 0) {
    ErrnoError(env, errno, "statfs", path).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  unsigned char fsid[8];
  std::memcpy(fsid, &st.f_fsid, 8);
  std::string key;
  AppendHandleKey(key, fsid, storage.data());
  return Napi::String::New(env, key);
}

}  // namespace rtb
