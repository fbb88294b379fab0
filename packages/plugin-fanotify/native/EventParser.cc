#include "EventParser.h"

#include "compat.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace rtb {

namespace {

const char kHex[] = "0123456789abcdef";

void AppendHex(std::string& out, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    out.push_back(kHex[p[i] >> 4]);
    out.push_back(kHex[p[i] & 15]);
  }
}

napi_value Key(napi_env env, const char* s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

}  // namespace

void AppendHandleKey(std::string& out, const unsigned char* fsid, const unsigned char* fileHandle) {
  uint32_t bytes;
  std::memcpy(&bytes, fileHandle, 4);
  AppendHex(out, fsid, 8);
  AppendHex(out, fileHandle + 4, 4);
  AppendHex(out, fileHandle + 8, bytes);
}

EventParser::EventParser(napi_env env, bool fidMode) : env_(env), fidMode_(fidMode) {
  kMask_ = Key(env, "mask");
  kPid_ = Key(env, "pid");
  kDir_ = Key(env, "dir");
  kName_ = Key(env, "name");
  kDir2_ = Key(env, "dir2");
  kName2_ = Key(env, "name2");
  kFid_ = Key(env, "fid");
  kPath_ = Key(env, "path");
  kError_ = Key(env, "error");
}

napi_value EventParser::Str(const char* s, size_t n) {
  napi_value v;
  napi_create_string_utf8(env_, s, n, &v);
  return v;
}

napi_value EventParser::Num(double d) {
  napi_value v;
  napi_create_double(env_, d, &v);
  return v;
}

void EventParser::Set(napi_value obj, napi_value key, napi_value value) {
  napi_set_property(env_, obj, key, value);
}

napi_value EventParser::KeyOf(const unsigned char* fsid, const unsigned char* handle, bool intern) {
  keyBytes_.clear();
  AppendHandleKey(keyBytes_, fsid, handle);
  // Bursts hit one directory many times in a row: reuse the JS string made for the previous event.
  if (intern && lastKeyValue_ != nullptr && keyBytes_ == lastKey_) return lastKeyValue_;
  napi_value v = Str(keyBytes_.data(), keyBytes_.size());
  if (intern) {
    lastKey_ = keyBytes_;
    lastKeyValue_ = v;
  }
  return v;
}

void EventParser::AppendLost(napi_value out, uint32_t& count, int err) {
  napi_value event;
  napi_create_object(env_, &event);
  Set(event, kMask_, Num(FAN_Q_OVERFLOW));
  Set(event, kPid_, Num(0));
  Set(event, kError_, Num(err));
  napi_set_element(env_, out, count++, event);
}

void EventParser::Parse(const unsigned char* buf, size_t len, napi_value out, uint32_t& count) {
  size_t offset = 0;
  while (len - offset >= sizeof(struct fanotify_event_metadata)) {
    struct fanotify_event_metadata meta;
    std::memcpy(&meta, buf + offset, sizeof meta);
    if (meta.vers != FANOTIFY_METADATA_VERSION || meta.event_len < sizeof meta ||
        meta.metadata_len < sizeof meta || meta.event_len > len - offset) {
      // A record we cannot trust: whatever followed in this read is lost, so say so rather than guess.
      AppendLost(out, count, EPROTO);
      return;
    }
    napi_value event;
    napi_create_object(env_, &event);
    Set(event, kMask_, Num(static_cast<double>(static_cast<uint32_t>(meta.mask))));
    Set(event, kPid_, Num(meta.pid));
    if (meta.mask & FAN_Q_OVERFLOW) {
      // Overflow carries no object; nothing else to read.
    } else if (fidMode_) {
      ParseFid(buf + offset + meta.metadata_len, buf + offset + meta.event_len, meta.mask, event);
    } else if (meta.fd >= 0) {
      ParseFd(meta.fd, event);
    } else if (meta.fd != FAN_NOFD) {
      // FAN_REPORT_FD_ERROR: the kernel could not open the event's file and reports -errno instead of an fd.
      Set(event, kError_, Num(-meta.fd));
    }
    napi_set_element(env_, out, count++, event);
    offset += meta.event_len;
  }
}

void EventParser::ParseFid(const unsigned char* info, const unsigned char* end, uint64_t mask, napi_value event) {
  // The child's own handle only matters for directories (to learn their path); skip the string otherwise.
  const bool wantChild = (mask & FAN_ONDIR) != 0;
  while (end - info >= static_cast<ptrdiff_t>(sizeof(RtbInfoHeader))) {
    RtbInfoHeader hdr;
    std::memcpy(&hdr, info, sizeof hdr);
    if (hdr.len < sizeof hdr || hdr.len > end - info) return;
    const unsigned char* recordEnd = info + hdr.len;
    const bool named = hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME ||
                       hdr.info_type == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME ||
                       hdr.info_type == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME;
    const bool fid = named || hdr.info_type == FAN_EVENT_INFO_TYPE_DFID || hdr.info_type == FAN_EVENT_INFO_TYPE_FID;
    if (fid && hdr.len >= sizeof(RtbInfoFid) + 8) {
      const unsigned char* fsid = info + offsetof(RtbInfoFid, fsid);
      const unsigned char* handle = info + sizeof(RtbInfoFid);
      uint32_t handleBytes;
      std::memcpy(&handleBytes, handle, 4);
      const unsigned char* afterHandle = handle + 8 + handleBytes;
      if (afterHandle <= recordEnd) {
        if (hdr.info_type == FAN_EVENT_INFO_TYPE_FID) {
          if (wantChild) Set(event, kFid_, KeyOf(fsid, handle, false));
        } else {
          const bool second = hdr.info_type == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME;
          Set(event, second ? kDir2_ : kDir_, KeyOf(fsid, handle, true));
          if (named && afterHandle < recordEnd) {
            const char* name = reinterpret_cast<const char*>(afterHandle);
            size_t n = strnlen(name, static_cast<size_t>(recordEnd - afterHandle));
            Set(event, second ? kName2_ : kName_, Str(name, n));
          }
        }
      }
    }
    info = recordEnd;
  }
}

void EventParser::ParseFd(int fd, napi_value event) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char path[PATH_MAX];
  ssize_t n = readlink(link, path, sizeof path);
  int err = n < 0 ? errno : 0;
  close(fd);
  if (n < 0) {
    Set(event, kError_, Num(err));
  } else if (static_cast<size_t>(n) >= sizeof path) {
    Set(event, kError_, Num(ENAMETOOLONG));
  } else {
    // Linux names are bytes: hand them to JS untouched (a Buffer), so names that are not UTF-8 survive.
    napi_value bytes;
    void* data = nullptr;
    napi_create_buffer_copy(env_, static_cast<size_t>(n), path, &data, &bytes);
    Set(event, kPath_, bytes);
  }
}

}  // namespace rtb
