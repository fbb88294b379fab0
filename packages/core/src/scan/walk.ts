import { lstat } from "node:fs/promises";
import { lstatSync, readdirSync } from "node:fs";
import type { Stats } from "node:fs";
import { isErrno } from "../errors.js";
import { decodeName, fsPath } from "../fsNames.js";

/** One path found by {@link walk}. */
export interface WalkEntry {
  path: string;
  /** The last component of `path` (the root's own entry: the root). */
  name: string;
  stats: Stats;
}

/**
 * Part of one directory's listing, as {@link walkDirectories} yields it. A directory comes in slices of at most
 * `concurrency` names, one after another (no other directory's slices between them); `complete` marks its last.
 */
export interface WalkedSlice {
  /** The directory listed; undefined for the slice that holds the root's own entry. */
  dir: string | undefined;
  /** The entries found, in name order, minus those `skip` refused. */
  entries: WalkEntry[];
  /**
   * Names that are there but yielded no entry because they were not looked into: a mount of another filesystem, an
   * entry whose lstat failed (reported). Never to be taken for gone.
   */
  kept: string[];
  /** True on the directory's last slice: its listing is whole (a cancelled walk never completes a directory). */
  complete: boolean;
}

/** Options of {@link walk}. */
export interface WalkOptions {
  /** Return true to skip a path (and, for a directory, everything under it). */
  skip?: (path: string, stats: Stats) => boolean | Promise<boolean>;
  /** Entries stat'ed between two yields to the event loop. Default 256. */
  concurrency?: number;
  /** Called for each directory not entered because another filesystem is mounted there. */
  onOtherFilesystem?: (path: string) => void;
  /**
   * Called for a path that exists but cannot be read: a directory whose listing fails (EACCES, EIO, ...), an entry
   * whose lstat fails, or a root that is missing or cannot be stat'ed. What is under such a path was not seen, so
   * it must never be taken for deleted. A path that vanishes between its listing and its lstat is not reported.
   */
  onUnreadable?: (path: string, err: unknown) => void;
  signal?: AbortSignal;
}

/**
 * Walks a tree depth-first, yielding every entry (the root included) with its lstat. Does not follow symlinks, does
 * not cross into other filesystems (st_dev of the root), skips `.zfs` at a filesystem root, and tolerates entries
 * that vanish mid-walk. Names are read as bytes and decoded losslessly ({@link decodeName}), so a name that is not
 * UTF-8 is yielded like any other; every path is handed to `node:fs` through {@link fsPath}.
 */
export async function* walk(root: string, options: WalkOptions = {}): AsyncGenerator<WalkEntry> {
  for await (const slice of walkDirectories(root, options)) yield* slice.entries;
}

/**
 * The walk of {@link walk}, a directory slice at a time: one promise per slice instead of one per entry, and each
 * directory's listing whole, so that a caller can compare it with what it knew of that directory (what is gone).
 * Every directory yielded in an entry is entered, whatever the caller does with the entry.
 */
export async function* walkDirectories(root: string, options: WalkOptions = {}): AsyncGenerator<WalkedSlice> {
  const concurrency = options.concurrency ?? 256;
  let rootStats: Stats;
  try {
    rootStats = await lstat(fsPath(root));
  } catch (err) {
    options.onUnreadable?.(root, err);
    return;
  }
  if (options.skip && (await options.skip(root, rootStats))) return;
  yield { dir: undefined, entries: [{ path: root, name: root, stats: rootStats }], kept: [], complete: true };
  if (!rootStats.isDirectory()) return;
  const device = rootStats.dev;
  const stack: string[] = [root];
  while (stack.length) {
    if (options.signal?.aborted) return;
    const dir = stack.pop()!;
    const names = listDirectory(dir, options);
    if (!names) continue;
    const prefix = dir === "/" ? "/" : `${dir}/`;
    const subdirs: string[] = [];
    let i = 0;
    do {
      const slice: WalkedSlice = { dir, entries: [], kept: [], complete: i + concurrency >= names.length };
      const end = Math.min(names.length, i + concurrency);
      // Synchronous lstat in bounded slices: about 4× faster than one promise per entry (no thread-pool round
      // trip), and the slices keep the event loop responsive.
      for (; i < end; i++) {
        const name = names[i]!;
        const path = prefix + name;
        const st = lstatEntry(path, options);
        if (st === "gone") continue;
        if (st === "unreadable") {
          slice.kept.push(name);
          continue;
        }
        if (st.isDirectory()) {
          if (st.dev !== device) {
            options.onOtherFilesystem?.(path);
            slice.kept.push(name);
            continue;
          }
          if (name === ".zfs" && dir === root) continue;
        }
        if (options.skip && (await options.skip(path, st))) continue;
        slice.entries.push({ path, name, stats: st });
        if (st.isDirectory()) subdirs.push(path);
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (options.signal?.aborted) slice.complete = false;
      yield slice;
    } while (i < names.length);
    // Reverse so that the stack pops them in name order.
    for (let k = subdirs.length - 1; k >= 0; k--) stack.push(subdirs[k]!);
  }
}

/** The names in a directory, decoded and sorted; undefined when it cannot be listed (reported unless it is gone). */
function listDirectory(dir: string, options: WalkOptions): string[] | undefined {
  try {
    // Synchronous, like the lstats: one thread-pool round trip per directory made the walk of a tree with few
    // files per directory mostly idle time. Names come as UTF-8 text (no Buffer per name); a listing in which one
    // did not decode (a U+FFFD stands in for its bytes) is read again as bytes and decoded losslessly.
    let names = readdirSync(fsPath(dir));
    if (names.some((name) => name.includes("\uFFFD"))) names = readdirSync(fsPath(dir), { encoding: "buffer" }).map((name) => decodeName(name));
    return names.sort();
  } catch (err) {
    // A directory that vanished (or was replaced by a file) since it was listed is gone, not unreadable.
    if (!isErrno(err, "ENOENT", "ENOTDIR")) options.onUnreadable?.(dir, err);
    return undefined;
  }
}

/** lstat of one entry: "gone" when it vanished since its listing, "unreadable" when it cannot be stat'ed (reported). */
function lstatEntry(path: string, options: WalkOptions): Stats | "gone" | "unreadable" {
  try {
    return lstatSync(fsPath(path));
  } catch (err) {
    if (isErrno(err, "ENOENT", "ENOTDIR")) return "gone";
    options.onUnreadable?.(path, err);
    return "unreadable";
  }
}
