#pragma once

#include <string>
#include <vector>

namespace linuxfs {

// What a file's extended attributes read as: name (without the NUL) and value bytes, in the order listxattr gave.
struct Xattr {
  std::string name;
  std::string value;
};

// Where the attributes are read: an open fd, or a path whose last component is not followed (a symlink's own).
struct XattrTarget {
  int fd = -1;
  std::string path;
};

// Reads every attribute of `target`. Returns 0, or an errno with `syscall` set to the call that failed. A
// filesystem without extended attributes (ENOTSUP) reads as none; an attribute removed between the list and its read
// (ENODATA) is left out.
int ReadXattrs(const XattrTarget& target, std::vector<Xattr>& out, const char*& syscall);

}  // namespace linuxfs
