// Kernel ABI values the addon needs, with fallbacks for older libc headers. The values are fixed by the kernel ABI;
// whether the running kernel supports them is found out at fanotify_init/fanotify_mark time.
#pragma once

#include <sys/fanotify.h>

#ifndef FAN_REPORT_FID
#define FAN_REPORT_FID 0x00000200
#endif
#ifndef FAN_REPORT_DIR_FID
#define FAN_REPORT_DIR_FID 0x00000400
#endif
#ifndef FAN_REPORT_NAME
#define FAN_REPORT_NAME 0x00000800
#endif
#ifndef FAN_REPORT_TARGET_FID
#define FAN_REPORT_TARGET_FID 0x00001000
#endif
#ifndef FAN_REPORT_FD_ERROR
#define FAN_REPORT_FD_ERROR 0x00002000
#endif
#ifndef FAN_NOFD
#define FAN_NOFD -1
#endif
#ifndef FAN_MARK_FILESYSTEM
#define FAN_MARK_FILESYSTEM 0x00000100
#endif
#ifndef FAN_ATTRIB
#define FAN_ATTRIB 0x00000004
#endif
#ifndef FAN_MOVED_FROM
#define FAN_MOVED_FROM 0x00000040
#endif
#ifndef FAN_MOVED_TO
#define FAN_MOVED_TO 0x00000080
#endif
#ifndef FAN_CREATE
#define FAN_CREATE 0x00000100
#endif
#ifndef FAN_DELETE
#define FAN_DELETE 0x00000200
#endif
#ifndef FAN_DELETE_SELF
#define FAN_DELETE_SELF 0x00000400
#endif
#ifndef FAN_MOVE_SELF
#define FAN_MOVE_SELF 0x00000800
#endif
#ifndef FAN_FS_ERROR
#define FAN_FS_ERROR 0x00008000
#endif
#ifndef FAN_RENAME
#define FAN_RENAME 0x10000000
#endif
#ifndef FAN_ONDIR
#define FAN_ONDIR 0x40000000
#endif
#ifndef FAN_EVENT_INFO_TYPE_FID
#define FAN_EVENT_INFO_TYPE_FID 1
#endif
#ifndef FAN_EVENT_INFO_TYPE_DFID_NAME
#define FAN_EVENT_INFO_TYPE_DFID_NAME 2
#endif
#ifndef FAN_EVENT_INFO_TYPE_DFID
#define FAN_EVENT_INFO_TYPE_DFID 3
#endif
#ifndef FAN_EVENT_INFO_TYPE_OLD_DFID_NAME
#define FAN_EVENT_INFO_TYPE_OLD_DFID_NAME 10
#endif
#ifndef FAN_EVENT_INFO_TYPE_NEW_DFID_NAME
#define FAN_EVENT_INFO_TYPE_NEW_DFID_NAME 12
#endif

// The info record header and the fid record, declared here because older headers lack them.
struct RtbInfoHeader {
  unsigned char info_type;
  unsigned char pad;
  unsigned short len;
};

struct RtbInfoFid {
  RtbInfoHeader hdr;
  unsigned char fsid[8];
  // Followed by struct file_handle { u32 handle_bytes; i32 handle_type; u8 f_handle[handle_bytes]; } and, for the
  // *_DFID_NAME types, a NUL-terminated name.
};
