/** One line of `/proc/self/mountinfo` (see proc(5)), with octal escapes decoded. */
export interface MountInfo {
  /** Unique id of the mount. */
  readonly mountId: number;
  /** Id of the parent mount (the mount this one is mounted on). */
  readonly parentId: number;
  /** Device number of the filesystem (`st_dev`), major part. */
  readonly major: number;
  /** Device number of the filesystem, minor part. */
  readonly minor: number;
  /** Path of the directory of the filesystem that forms the root of this mount (`/` unless a bind of a subdirectory). */
  readonly root: string;
  /** Where it is mounted, relative to the process's root. */
  readonly mountPoint: string;
  /** Per-mount options (`rw,relatime`). */
  readonly mountOptions: string;
  /** Optional fields such as `shared:1`, `master:2`. */
  readonly optionalFields: readonly string[];
  /** Filesystem type (`zfs`, `fuse.zfs`, `ext4`, `tmpfs`). */
  readonly fsType: string;
  /** Filesystem-specific source: a device, a dataset name (`tank/home`), or `none`. */
  readonly source: string;
  /** Per-superblock options. */
  readonly superOptions: string;
}

/**
 * Decodes the `\ooo` octal escapes the kernel uses in mountinfo for space, tab, newline and backslash (and any other
 * byte it chooses to escape). Bytes are reassembled as UTF-8.
 */
export function decodeMountInfoField(field: string): string {
  if (!field.includes("\\")) return field;
  const bytes: number[] = [];
  const raw = Buffer.from(field, "utf8");
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === 0x5c && i + 3 < raw.length && isOctal(raw[i + 1]) && isOctal(raw[i + 2]) && isOctal(raw[i + 3])) {
      bytes.push(((raw[i + 1]! - 48) << 6) | ((raw[i + 2]! - 48) << 3) | (raw[i + 3]! - 48));
      i += 3;
    } else {
      bytes.push(c);
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

function isOctal(c: number | undefined): boolean {
  return c !== undefined && c >= 48 && c <= 55;
}

/**
 * Parses the text of `/proc/<pid>/mountinfo`. Lines that do not have the documented shape are skipped rather than
 * failing the whole table, since a new kernel may add fields we do not know.
 */
export function parseMountInfo(text: string): MountInfo[] {
  const mounts: MountInfo[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const fields = line.split(" ");
    const separator = fields.indexOf("-", 6);
    if (fields.length < 10 || separator < 0 || fields.length < separator + 3) continue;
    const [mountId, parentId, device, root, mountPoint, mountOptions] = fields as [string, string, string, string, string, string];
    const deviceMatch = /^(\d+):(\d+)$/.exec(device);
    if (!deviceMatch) continue;
    mounts.push({
      mountId: Number(mountId),
      parentId: Number(parentId),
      major: Number(deviceMatch[1]),
      minor: Number(deviceMatch[2]),
      root: decodeMountInfoField(root),
      mountPoint: decodeMountInfoField(mountPoint),
      mountOptions,
      optionalFields: fields.slice(6, separator),
      fsType: fields[separator + 1]!,
      source: decodeMountInfoField(fields[separator + 2]!),
      superOptions: fields[separator + 3] ?? "",
    });
  }
  return mounts;
}
