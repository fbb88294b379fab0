#include "xattrs.h"

#include <sys/xattr.h>

#include <cerrno>

namespace linuxfs {

namespace {

// Attribute lists and values are at most 64 KiB on Linux (XATTR_LIST_MAX, XATTR_SIZE_MAX); a size that keeps
// changing between the query and the read is given up on after a few tries (EAGAIN).
constexpr int kTries = 4;

ssize_t List(const XattrTarget& t, char* buf, size_t size) {
  return t.fd >= 0 ? flistxattr(t.fd, buf, size) : llistxattr(t.path.c_str(), buf, size);
}

ssize_t Get(const XattrTarget& t, const char* name, char* buf, size_t size) {
  return t.fd >= 0 ? fgetxattr(t.fd, name, buf, size) : lgetxattr(t.path.c_str(), name, buf, size);
}

// Calls `call(buf, size)` into `out`, growing it on ERANGE to the size a query (size 0) reports.
template <typename Call>
int ReadSized(std::string& out, size_t first, Call call) {
  out.resize(first);
  for (int i = 0; i < kTries; i++) {
    ssize_t n = call(out.empty() ? nullptr : &out[0], out.size());
    if (n >= 0) {
      out.resize(static_cast<size_t>(n));
      return 0;
    }
    if (errno != ERANGE) return errno;
    ssize_t need = call(nullptr, 0);
    if (need < 0) return errno;
    out.resize(static_cast<size_t>(need) + 1);
  }
  return EAGAIN;
}

}  // namespace

int ReadXattrs(const XattrTarget& target, std::vector<Xattr>& out, const char*& syscall) {
  std::string names;
  // Most files have no attributes: one call with a small buffer answers for them.
  syscall = target.fd >= 0 ? "flistxattr" : "llistxattr";
  int err = ReadSized(names, 256, [&](char* buf, size_t size) { return List(target, buf, size); });
  if (err == ENOTSUP) return 0;
  if (err) return err;
  syscall = target.fd >= 0 ? "fgetxattr" : "lgetxattr";
  for (size_t at = 0; at < names.size();) {
    size_t end = names.find('\0', at);
    if (end == std::string::npos) end = names.size();
    Xattr attr{names.substr(at, end - at), std::string()};
    at = end + 1;
    if (attr.name.empty()) continue;
    err = ReadSized(attr.value, 256, [&](char* buf, size_t size) { return Get(target, attr.name.c_str(), buf, size); });
    if (err == ENODATA) continue;
    if (err) return err;
    out.push_back(std::move(attr));
  }
  return 0;
}

}  // namespace linuxfs
