#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace rtb {

// Turns the bytes of one fanotify read() into plain JS objects appended to an array. Runs on the JS thread only,
// inside the HandleScope of one delivery, so the napi_values it caches never outlive that scope.
//
// Object shapes (mask is the low 32 bits of the kernel mask; every flag the addon marks fits in them):
//   FID mode:  { mask, pid, dir, name, fid?, dir2?, name2? }   dir/fid are handle keys (hex of fsid, handle type
//              and handle bytes); fid is set only for directory events (FAN_ONDIR); dir2/name2 for FAN_RENAME.
//   fd mode:   { mask, pid, path } (path: a Buffer of the name bytes) or { mask, pid, error } when the event's file
//              could not be opened (FAN_REPORT_FD_ERROR) or its path could not be read.
//   lost:      { mask: FAN_Q_OVERFLOW, pid: 0, error } synthesised when a read failed because the kernel
//              could not open an event's file (ENOENT, ESTALE, EMFILE, ...): that one event was dropped.
class EventParser {
 public:
  EventParser(napi_env env, bool fidMode);

  // Appends the events of buf[0, len) to `out`; `count` is the array's length so far and is advanced.
  void Parse(const unsigned char* buf, size_t len, napi_value out, uint32_t& count);

  // Appends a synthetic "events were lost" record carrying errno `err`.
  void AppendLost(napi_value out, uint32_t& count, int err);

 private:
  void ParseFid(const unsigned char* info, const unsigned char* end, uint64_t mask, napi_value event);
  void ParseFd(int fd, napi_value event);
  napi_value KeyOf(const unsigned char* fsid, const unsigned char* handle, bool intern);
  napi_value Str(const char* s, size_t n);
  napi_value Num(double v);
  void Set(napi_value obj, napi_value key, napi_value value);

  napi_env env_;
  bool fidMode_;
  napi_value kMask_, kPid_, kDir_, kName_, kDir2_, kName2_, kFid_, kPath_, kError_;
  std::string keyBytes_;
  std::string lastKey_;
  napi_value lastKeyValue_ = nullptr;
};

// Hex text of fsid (8 bytes), handle_type (4 bytes, host order) and the handle bytes: the key a handle is known by.
void AppendHandleKey(std::string& out, const unsigned char* fsid, const unsigned char* fileHandle);

}  // namespace rtb
