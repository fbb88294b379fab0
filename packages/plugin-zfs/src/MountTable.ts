import { readFile } from "node:fs/promises";
import { parseMountInfo as parseCoreMountInfo, PROC_MOUNTINFO, type MountInfo } from "@rtbackup/core";

/** One line of `/proc/self/mountinfo`: the fields of core's {@link MountInfo} that this plugin uses. */
export interface MountEntry {
  /** Path inside the mounted filesystem that appears at `mountpoint` (`/` unless it is a bind mount of a subtree). */
  readonly root: string;
  /** Where it is mounted. */
  readonly mountpoint: string;
  /** Filesystem type: `zfs` for OpenZFS, `fuse.zfs` for zfs-fuse. */
  readonly fsType: string;
  /** Mount source: the dataset name for ZFS. */
  readonly source: string;
}

/** Filesystem types that are ZFS datasets. */
export const ZFS_MOUNT_TYPES: ReadonlySet<string> = new Set(["zfs", "fuse.zfs"]);

/**
 * Parses `/proc/<pid>/mountinfo` with `parseMountInfo` of `@rtbackup/core` (octal escapes decoded, lines without the
 * documented shape skipped) and keeps the fields this plugin uses.
 */
export function parseMountInfo(text: string): MountEntry[] {
  return parseCoreMountInfo(text).map(toMountEntry);
}

function toMountEntry(m: MountInfo): MountEntry {
  return { root: m.root, mountpoint: m.mountPoint, fsType: m.fsType, source: m.source };
}

/** Reads the calling process's mount table. */
export function readProcMountInfo(): Promise<string> {
  return readFile(PROC_MOUNTINFO, "utf8");
}

/** Parent directory of an absolute normalised path (`/` for `/x`, undefined for `/`). */
function parentOf(path: string): string | undefined {
  if (path === "/") return undefined;
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/**
 * The mount table as a lookup: which mount a path is on. When several mounts share a mount point, the last one
 * (the visible one) wins. Lookup walks up the path's directories, so it costs one map probe per path component.
 */
export class MountTable {
  readonly #byMountpoint = new Map<string, MountEntry>();

  constructor(entries: readonly MountEntry[]) {
    for (const entry of entries) this.#byMountpoint.set(entry.mountpoint, entry);
  }

  /** Every visible mount, one per mount point. */
  get entries(): IterableIterator<MountEntry> {
    return this.#byMountpoint.values();
  }

  /** The mount at exactly this mount point. */
  at(mountpoint: string): MountEntry | undefined {
    return this.#byMountpoint.get(mountpoint);
  }

  /** The deepest mount containing `path` (an absolute, normalised path). */
  mountOf(path: string): MountEntry | undefined {
    for (let p: string | undefined = path; p !== undefined; p = parentOf(p)) {
      const entry = this.#byMountpoint.get(p);
      if (entry) return entry;
    }
    return undefined;
  }
}
