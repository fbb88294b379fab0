// The Linux file calls Node.js has no binding for, from a small native addon (native/): extended attributes on an fd
// or a path, SEEK_DATA/SEEK_HOLE, and mknodat. Errors are shaped like Node's own fs errors (`code`, `errno`,
// `syscall`), so `err.code === "EPERM"` tests work the same.
import { createRequire } from "node:module";
import { DirectoryStats } from "./directoryStats.js";

export { DirectoryStats, EntryStats, errnoError } from "./directoryStats.js";

/** One extended attribute: its name and value, as bytes. */
export interface Xattr {
  readonly name: Buffer;
  readonly value: Buffer;
}

/** Where attributes are read or set: an open fd, or a path (bytes). */
export type XattrTarget = number | Buffer;

interface Addon {
  readXattrsSync(target: XattrTarget): Buffer;
  readXattrs(target: XattrTarget, callback: (err: Error | null, packed: Buffer) => void): void;
  setXattr(target: XattrTarget, name: Buffer, value: Buffer): void;
  seek(fd: number, offset: number, hole: boolean): number;
  dataExtents(fd: number, size: number, max: number, callback: (err: Error | null, flat: number[] | null) => void): void;
  mknodAt(dirfd: number, name: Buffer, mode: number, major: number, minor: number): void;
  majorMinor(rdev: number): [number, number];
  listStats(dir: string | Buffer): [Buffer, Float64Array];
}

function load(): Addon {
  try {
    return createRequire(import.meta.url)("../build/Release/linux_fs.node") as Addon;
  } catch (err) {
    throw new Error(
      `@rtbackup/linux-fs: its native addon is not built (${(err as Error).message.split("\n")[0]}); run "npm rebuild @rtbackup/linux-fs" (needs python3, make and g++)`,
      { cause: err },
    );
  }
}

const addon = load();

/** Unpacks the addon's one Buffer (per attribute: u16 LE name length, name, u32 LE value length, value) into views. */
function toXattrs(packed: Buffer): Xattr[] {
  const out: Xattr[] = [];
  for (let at = 0; at < packed.length;) {
    const n = packed.readUInt16LE(at);
    const name = packed.subarray(at + 2, at + 2 + n);
    const v = packed.readUInt32LE(at + 2 + n);
    const start = at + 6 + n;
    out.push({ name, value: packed.subarray(start, start + v) });
    at = start + v;
  }
  return out;
}

/**
 * Every extended attribute of `target`: an fd (`flistxattr`/`fgetxattr`), or a path whose last component is not
 * followed (`llistxattr`/`lgetxattr`: a symlink's own attributes). A filesystem without extended attributes reads as
 * none; an attribute removed while they are read is left out. Only what the caller may read is listed (`trusted.*`
 * needs CAP_SYS_ADMIN).
 */
export function readXattrsSync(target: XattrTarget): Xattr[] {
  return toXattrs(addon.readXattrsSync(target));
}

/** {@link readXattrsSync} in the thread pool, for a filesystem that may be slow to answer (FUSE). */
export function readXattrs(target: XattrTarget): Promise<Xattr[]> {
  return new Promise((resolve, reject) => addon.readXattrs(target, (err, packed) => (err ? reject(err) : resolve(toXattrs(packed)))));
}

/**
 * Sets one attribute (created or replaced): `fsetxattr` on an fd, `setxattr` on a path. The path form follows the
 * last component, which is what `/proc/self/fd/<n>` of an `O_PATH` fd needs to reach the very inode it holds.
 */
export function setXattr(target: XattrTarget, name: Buffer, value: Buffer): void {
  addon.setXattr(target, name, value);
}

/** `lseek(fd, offset, SEEK_DATA)`: where the next data at or after `offset` begins, or -1 when only a hole follows. */
export function seekData(fd: number, offset: number): number {
  return addon.seek(fd, offset, false);
}

/** `lseek(fd, offset, SEEK_HOLE)`: where the next hole at or after `offset` begins (the end of the file counts as one). */
export function seekHole(fd: number, offset: number): number {
  return addon.seek(fd, offset, true);
}

/** A run of data in a file: bytes `start` (inclusive) to `end` (exclusive). */
export interface Extent {
  readonly start: number;
  readonly end: number;
}

/**
 * Where the data of an open file lies below `size`, found with SEEK_DATA/SEEK_HOLE in the thread pool: the runs in
 * order, holes between them (none at all for a file that is one hole). `undefined` past `max` runs (the caller then
 * reads the file whole). A filesystem that cannot tell says the whole file is data, which is what SEEK_DATA's
 * fallback in the kernel answers.
 */
export function dataExtents(fd: number, size: number, max = 65536): Promise<Extent[] | undefined> {
  return new Promise((resolve, reject) =>
    addon.dataExtents(fd, size, max, (err, flat) => {
      if (err) return reject(err);
      if (!flat) return resolve(undefined);
      const out: Extent[] = [];
      for (let i = 0; i < flat.length; i += 2) out.push({ start: flat[i]!, end: flat[i + 1]! });
      resolve(out);
    }),
  );
}

/** Type bits of `mknodAt`'s mode. */
export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

/** `mknodat(dirfd, name, mode, makedev(major, minor))`: a FIFO (`S_IFIFO`) or a device node (`S_IFCHR`, `S_IFBLK`). */
export function mknodAt(dirfd: number, name: Buffer, mode: number, major = 0, minor = 0): void {
  addon.mknodAt(dirfd, name, mode, major, minor);
}

/** The major and minor numbers of a device number (`st_rdev`), as glibc's `major()`/`minor()` split it. */
export function majorMinor(rdev: number): { major: number; minor: number } {
  const [major, minor] = addon.majorMinor(rdev);
  return { major, minor };
}

/**
 * Every name in directory `dir` but "." and "..", with each one's lstat, in one call: the directory is opened
 * (`O_NOFOLLOW`: a symlink in its place is not followed, it fails with ENOTDIR), read, and each name stat'ed relative to it (`fstatat`,
 * `AT_SYMLINK_NOFOLLOW`). Throws an fs-shaped error when the directory cannot be opened or read; an entry that cannot
 * be stat'ed has its errno instead of its stats.
 */
export function listDirectoryStats(dir: string | Buffer): DirectoryStats {
  const [names, stats] = addon.listStats(dir);
  return new DirectoryStats(names, stats);
}
