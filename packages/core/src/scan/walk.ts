import { lstat } from "node:fs/promises";
import { errnoError, listDirectoryStats, type DirectoryStats, type EntryStats } from "@rtbackup/linux-fs";
import { isErrno } from "../errors.js";
import { decodeName, fsPath } from "../fsNames.js";

/** One path found by {@link walk}. */
export interface WalkEntry {
  path: string;
  /** The last component of `path` (the root's own entry: the root). */
  name: string;
  /** Its lstat: Node's `Stats` for the root, the lighter {@link EntryStats} (the same fields and tests) below it. */
  stats: EntryStats;
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
  skip?: (path: string, stats: EntryStats) => boolean | Promise<boolean>;
  /**
   * Asked for each directory yielded, once its parent's listing has been handed on whole (the caller has seen the
   * directory's entry): false leaves it unlisted (what is under it is not walked). Default: every one is entered.
   */
  enter?: (path: string) => boolean;
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
 * Every directory yielded in an entry is entered (unless `enter` refused it), whatever the caller does with the entry.
 */
export async function* walkDirectories(root: string, options: WalkOptions = {}): AsyncGenerator<WalkedSlice> {
  const concurrency = options.concurrency ?? 256;
  let rootStats: EntryStats;
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
    const listing = listDirectory(dir, options);
    if (!listing) continue;
    const { names, order, stats } = listing;
    const prefix = dir === "/" ? "/" : `${dir}/`;
    const subdirs: string[] = [];
    let i = 0;
    do {
      const slice: WalkedSlice = { dir, entries: [], kept: [], complete: i + concurrency >= names.length };
      const end = Math.min(names.length, i + concurrency);
      // The directory was listed and its entries stat'ed in one native call; the slices keep the event loop
      // responsive while the entries are handed on.
      for (; i < end; i++) {
        const k = order[i]!;
        const name = names[k]!;
        const path = prefix + name;
        const st = entryStats(stats, k, path, options);
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
    for (let k = subdirs.length - 1; k >= 0; k--) if (options.enter?.(subdirs[k]!) ?? true) stack.push(subdirs[k]!);
  }
}

const ENOENT = 2;
const ENOTDIR = 20;

/** A directory's names (decoded), the order that sorts them, and their lstats. */
interface Listing {
  names: string[];
  order: number[];
  stats: DirectoryStats;
}

/** A directory listed and its entries stat'ed; undefined when it cannot be listed (reported unless it is gone). */
function listDirectory(dir: string, options: WalkOptions): Listing | undefined {
  let stats: DirectoryStats;
  try {
    stats = listDirectoryStats(fsPath(dir));
  } catch (err) {
    // A directory that vanished, or was replaced by a file or a symlink since it was stat'ed, is gone, not unreadable.
    if (!isErrno(err, "ENOENT", "ENOTDIR")) options.onUnreadable?.(dir, errnoError((err as NodeJS.ErrnoException).errno ?? 0, "scandir", dir));
    return undefined;
  }
  // Names come as UTF-8 text; one that did not decode (a U+FFFD stands in for its bytes) is decoded losslessly.
  const names = stats.names;
  for (let k = 0; k < names.length; k++) if (names[k]!.includes("\uFFFD")) names[k] = decodeName(stats.rawName(k));
  const order = Array.from(names.keys()).sort((a, b) => (names[a]! < names[b]! ? -1 : 1));
  return { names, order, stats };
}

/** The k-th entry's lstat: "gone" when it vanished since its listing, "unreadable" when it cannot be stat'ed (reported). */
function entryStats(listing: DirectoryStats, k: number, path: string, options: WalkOptions): EntryStats | "gone" | "unreadable" {
  const st = listing.stats(k);
  if (st) return st;
  const errno = listing.errno(k);
  if (errno === ENOENT || errno === ENOTDIR) return "gone";
  options.onUnreadable?.(path, listing.error(k, path));
  return "unreadable";
}
