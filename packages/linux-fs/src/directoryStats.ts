// A directory's names and each one's lstat from one native call (listStats in native/dirstats.cc), and the light
// stats object the scan compares with what it remembers.
import { getSystemErrorMap } from "node:util";

const S_IFMT = 0o170000;

/**
 * What lstat says of one entry: the fields of Node's `Stats` a scan compares (numbers, as Node gives them; `mtimeMs`
 * and `ctimeMs` computed as Node computes them) and its type tests.
 */
export class EntryStats {
  constructor(
    readonly dev: number,
    readonly ino: number,
    readonly mode: number,
    readonly nlink: number,
    readonly uid: number,
    readonly gid: number,
    readonly rdev: number,
    readonly size: number,
    readonly blocks: number,
    readonly mtimeMs: number,
    readonly ctimeMs: number,
  ) {}

  isFile(): boolean {
    return (this.mode & S_IFMT) === 0o100000;
  }
  isDirectory(): boolean {
    return (this.mode & S_IFMT) === 0o040000;
  }
  isSymbolicLink(): boolean {
    return (this.mode & S_IFMT) === 0o120000;
  }
  isFIFO(): boolean {
    return (this.mode & S_IFMT) === 0o010000;
  }
  isCharacterDevice(): boolean {
    return (this.mode & S_IFMT) === 0o020000;
  }
  isBlockDevice(): boolean {
    return (this.mode & S_IFMT) === 0o060000;
  }
  isSocket(): boolean {
    return (this.mode & S_IFMT) === 0o140000;
  }
}

/** Numbers per entry in the addon's Float64Array (errno first, then the fields of {@link EntryStats} in order). */
const FIELDS = 12;

/**
 * One directory as {@link listDirectoryStats} read it. `names[i]` is the i-th name decoded as UTF-8 (a byte that is
 * not UTF-8 reads as U+FFFD: take {@link rawName} then), in the order the kernel listed them.
 */
export class DirectoryStats {
  readonly names: string[];
  readonly #packed: Buffer;
  readonly #stats: Float64Array;
  #offsets: number[] | undefined;

  constructor(packed: Buffer, stats: Float64Array) {
    this.#packed = packed;
    this.#stats = stats;
    this.names = packed.length ? packed.toString("utf8", 0, packed.length - 1).split("\0") : [];
  }

  /** The i-th name's bytes, as the kernel gave them. */
  rawName(i: number): Buffer {
    if (!this.#offsets) {
      const offsets = [0];
      for (let at = this.#packed.indexOf(0); at !== -1; at = this.#packed.indexOf(0, at + 1)) offsets.push(at + 1);
      this.#offsets = offsets;
    }
    return this.#packed.subarray(this.#offsets[i]!, this.#offsets[i + 1]! - 1);
  }

  /** 0, or the errno of the i-th entry's lstat (ENOENT: it vanished since the listing). */
  errno(i: number): number {
    return this.#stats[i * FIELDS]!;
  }

  /** The i-th entry's lstat; undefined when it failed ({@link errno}). */
  stats(i: number): EntryStats | undefined {
    const s = this.#stats;
    const at = i * FIELDS;
    if (s[at] !== 0) return undefined;
    return new EntryStats(s[at + 1]!, s[at + 2]!, s[at + 3]!, s[at + 4]!, s[at + 5]!, s[at + 6]!, s[at + 7]!, s[at + 8]!, s[at + 9]!, s[at + 10]!, s[at + 11]!);
  }

  /** The i-th entry's failed lstat as an error shaped like Node's (`code`, `errno`, `syscall`, `path`). */
  error(i: number, path: string): NodeJS.ErrnoException {
    return errnoError(this.errno(i), "lstat", path);
  }
}

/** An error shaped like Node's fs errors for a failed system call: "<CODE>: <message>, <syscall> '<path>'". */
export function errnoError(errno: number, syscall: string, path: string): NodeJS.ErrnoException {
  const [code, message] = getSystemErrorMap().get(-errno) ?? [`E${errno}`, `error ${errno}`];
  return Object.assign(new Error(`${code}: ${message}, ${syscall} '${path}'`), { code, errno: -errno, syscall, path });
}
