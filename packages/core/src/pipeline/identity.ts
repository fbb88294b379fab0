// What the state cache remembers of a file against what is on disk now: the same index entry, the same local
// identity, and when an identity cannot be trusted yet.
import type { Stats } from "node:fs";
import type { DiskIdentity, LocalIdentity } from "../state/StateCache.js";
import type { FileEntry } from "../types.js";
import { sameXattrs } from "../xattrs/xattrs.js";
import { entryTypeOf } from "../entryTypes.js";

/** Same content and metadata (what the index records, attributes included; owner names and, for a file with one name, its inode aside). */
export function sameEntry(a: FileEntry, b: FileEntry): boolean {
  return (
    a.type === b.type &&
    a.size === b.size &&
    a.mtimeMs === b.mtimeMs &&
    a.mode === b.mode &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    a.target === b.target &&
    a.links === b.links &&
    a.major === b.major &&
    a.minor === b.minor &&
    sameXattrs(a.xattrs, b.xattrs) &&
    // The inode matters once the file has other names (it groups them); a file with one name that was replaced by
    // an identical copy is the same entry.
    (a.links === undefined || a.inode === b.inode) &&
    a.chunks.length === b.chunks.length &&
    a.chunks.every((c, i) => c === b.chunks[i])
  );
}

/**
 * Whether a live file still matches its cached entry by size, mtime, ctime, inode, and the mode and owner recorded
 * (no read needed). Mode and owner are compared too because a ctime does not always move: zfs-fuse keeps whole
 * seconds, so a chmod in the second of the last change leaves it as it was.
 */
export function unchangedOnDisk(
  cached: DiskIdentity | undefined,
  stats: Pick<
    Stats,
    | "size"
    | "mtimeMs"
    | "ctimeMs"
    | "ino"
    | "mode"
    | "uid"
    | "gid"
    | "isDirectory"
    | "isFile"
    | "isSymbolicLink"
    | "isFIFO"
    | "isCharacterDevice"
    | "isBlockDevice"
  >,
): boolean {
  if (!cached) return false;
  const type = entryTypeOf(stats);
  if (type !== cached.type) return false;
  if (type === "file" && stats.size !== cached.size) return false;
  if ((stats.mode & 0o7777) !== cached.mode || stats.uid !== cached.uid || stats.gid !== cached.gid) return false;
  return stats.mtimeMs === cached.mtimeMs && stats.ctimeMs === cached.ctimeMs && stats.ino === cached.ino;
}

/**
 * How close to the moment a file was read a later change may leave its ctime where it was: timestamps are cut to the
 * filesystem's granularity. A ctime on a whole second is taken as one from a filesystem that keeps only seconds
 * (zfs-fuse; FAT's two seconds included): 2 s. Any other moved with the kernel's clock tick (1-10 ms): 20 ms. Git
 * calls such entries racy.
 */
export function racyWindowMs(ctimeMs: number): number {
  return ctimeMs % 1000 === 0 ? 2000 : 20;
}

/**
 * The identity to remember for a file whose stats show it as of `readAt` (the snapshot's moment, or when the live
 * read began): when its ctime lies within {@link racyWindowMs} of that moment, a later change could keep the same
 * ctime, so the identity is one no stat matches (ctime -1) and the next scan reads the file again (its unchanged
 * content is not sent twice, and no index record is written for it) instead of trusting it.
 */
export function settledIdentity(identity: LocalIdentity, readAt: number): LocalIdentity {
  return identity.ctimeMs + racyWindowMs(identity.ctimeMs) > readAt ? { ...identity, ctimeMs: -1 } : identity;
}
