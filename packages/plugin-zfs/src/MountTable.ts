import { readFile } from "node:fs/promises";

/** One line of `/proc/self/mountinfo`. */
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

/** Decodes mountinfo's octal escapes (`\040` for a space, `\011`, `\012`, `\134`). */
function unescape(field: string): string {
  if (!field.includes("\\")) return field;
  const bytes: number[] = [];
  for (let i = 0; i < field.length; i++) {
    const m = /^\\([0-7]{3})/.exec(field.slice(i, i + 4));
    if (m) {
      bytes.push(parseInt(m[1]!, 8));
      i += 3;
    } else {
      bytes.push(...Buffer.from(field[i]!, "utf8"));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

/** Parses `/proc/<pid>/mountinfo` (see proc(5)). Malformed lines are skipped. */
export function parseMountInfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const fields = line.split(" ");
    const dash = fields.indexOf("-", 6);
    if (dash < 0 || fields.length < dash + 3) continue;
    out.push({
      root: unescape(fields[3]!),
      mountpoint: unescape(fields[4]!),
      fsType: fields[dash + 1]!,
      source: unescape(fields[dash + 2]!),
    });
  }
  return out;
}

/** Reads the calling process's mount table. */
export function readProcMountInfo(): Promise<string> {
  return readFile("/proc/self/mountinfo", "utf8");
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
