import { constants as C, errnoOf, FanotifyGroup } from "./binding.js";
import { explainFanotifyError } from "./fanotifyErrors.js";

const EINVAL = 22;
const ENODEV = 19;
const EXDEV = 18;
const EOPNOTSUPP = 95;
/** fd mode opens one fd per event in the read buffer: keep that well under any sane RLIMIT_NOFILE. */
const FD_MODE_BUFFER = 24 * 256;

/** What opening a group needs from the source's configuration. */
export interface GroupSettings {
  readonly queue: "default" | "unlimited";
  readonly readBufferSize: number;
  readonly maxReadsPerWakeup: number;
  /** fd mode: ask for FAN_REPORT_FD_ERROR (Linux ≥ 6.13), so a failed open is reported per event. */
  readonly reportFdErrors: boolean;
}

function queueFlag(settings: GroupSettings): number {
  return settings.queue === "unlimited" ? C.FAN_UNLIMITED_QUEUE : 0;
}

/** A FID-mode group (file handles and names), with FAN_REPORT_TARGET_FID where the kernel has it. */
export function openFidGroup(settings: GroupSettings): FanotifyGroup {
  const fid = C.FAN_CLASS_NOTIF | C.FAN_REPORT_FID | C.FAN_REPORT_DIR_FID | C.FAN_REPORT_NAME | queueFlag(settings);
  const eventFlags = C.O_RDONLY | C.O_LARGEFILE | C.O_CLOEXEC;
  const { readBufferSize, maxReadsPerWakeup } = settings;
  try {
    return new FanotifyGroup(fid | C.FAN_REPORT_TARGET_FID, eventFlags, readBufferSize, maxReadsPerWakeup);
  } catch (err) {
    if (errnoOf(err) !== EINVAL) throw explainFanotifyError(err, { syscall: "fanotify_init", what: "fanotify" });
  }
  // Before Linux 5.17 there is no FAN_REPORT_TARGET_FID; directory paths are then learnt from the kernel only.
  try {
    return new FanotifyGroup(fid, eventFlags, readBufferSize, maxReadsPerWakeup);
  } catch (err) {
    throw explainFanotifyError(err, { syscall: "fanotify_init", what: 'FAN_REPORT_DFID_NAME (Linux ≥ 5.9); use mode "fd"' });
  }
}

/**
 * An fd-mode group (one open fd per event). With `reportFdErrors` it asks for FAN_REPORT_FD_ERROR, so an event
 * whose file the kernel could not open (already unlinked, stale) arrives as an error record; a kernel without it
 * refuses the flag with EINVAL and the group is opened without, where such an event fails the read instead. Both
 * are one lost event to the source. `reportsFdErrors` says which one it got.
 */
export function openFdGroup(settings: GroupSettings): { group: FanotifyGroup; reportsFdErrors: boolean } {
  const flags = C.FAN_CLASS_NOTIF | queueFlag(settings);
  const open = (extra: number) => new FanotifyGroup(flags | extra, C.O_RDONLY | C.O_LARGEFILE | C.O_CLOEXEC, FD_MODE_BUFFER, settings.maxReadsPerWakeup);
  if (settings.reportFdErrors) {
    try {
      return { group: open(C.FAN_REPORT_FD_ERROR), reportsFdErrors: true };
    } catch (err) {
      if (errnoOf(err) !== EINVAL) throw explainFanotifyError(err, { syscall: "fanotify_init", what: "fanotify" });
    }
  }
  try {
    return { group: open(0), reportsFdErrors: false };
  } catch (err) {
    throw explainFanotifyError(err, { syscall: "fanotify_init", what: "fanotify" });
  }
}

/**
 * Marks the filesystem of `mountPoint` in a FID-mode group with directory-entry events, using FAN_RENAME where the
 * kernel has it (`renameEvents`) and MOVED_FROM/MOVED_TO pairs otherwise; `known` is the mask an earlier mark
 * settled on (0 for none). Returns the mask used. ENODEV, EOPNOTSUPP and EXDEV (no file handles) are rethrown as
 * they are, for the caller to fall back to fd mode.
 */
export function markFilesystem(group: FanotifyGroup, mountPoint: string, known: number, renameEvents: boolean): number {
  const base = C.FAN_CREATE | C.FAN_DELETE | C.FAN_MODIFY | C.FAN_CLOSE_WRITE | C.FAN_ATTRIB | C.FAN_ONDIR;
  const candidates = known
    ? [known]
    : renameEvents
      ? [base | C.FAN_RENAME, base | C.FAN_MOVED_FROM | C.FAN_MOVED_TO]
      : [base | C.FAN_MOVED_FROM | C.FAN_MOVED_TO];
  let lastError: unknown;
  for (const mask of candidates) {
    try {
      group.mark(mountPoint, C.FAN_MARK_ADD | C.FAN_MARK_FILESYSTEM, mask);
      return mask;
    } catch (err) {
      lastError = err;
      // EINVAL for FAN_RENAME means a kernel before 5.17: fall back to MOVED_FROM/MOVED_TO pairs.
      if (errnoOf(err) !== EINVAL) break;
    }
  }
  const errno = errnoOf(lastError);
  if (errno === ENODEV || errno === EOPNOTSUPP || errno === EXDEV) throw lastError;
  throw explainFanotifyError(lastError, {
    syscall: "fanotify_mark",
    what: "filesystem marks with directory-entry events (FAN_MARK_FILESYSTEM, Linux ≥ 5.1)",
    path: mountPoint,
  });
}
