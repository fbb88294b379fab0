import type { FileEntry } from "../types.js";

/**
 * What a restore restores, read as often as it needs, a piece at a time: a whole selection in memory
 * ({@link arraySource}), or one streamed from a tree on disk (`spillSelection`), so that memory holds a piece, not the
 * tree. The restore reads {@link pieces} two or three times (the hard-linked names unless `linked` gives them, then
 * everything but symlinks, then symlinks) and {@link directoriesDeepestFirst} once (their metadata, last).
 */
export interface RestoreSource {
  /** Every selected entry once, in pieces. Any order; parents before children where the order allows is cheapest. */
  pieces(): Iterable<readonly FileEntry[]>;
  /** Every selected directory once, each before every directory above it, in pieces. */
  directoriesDeepestFirst(): Iterable<readonly FileEntry[]>;
  /** The {@link linkedKeys} of the selection, when the source knows them already (else a pass finds them). */
  linked?: ReadonlySet<string>;
}

/** A selection held in memory as one piece; directories sorted deepest first (then by path, descending). */
export function arraySource(entries: readonly FileEntry[]): RestoreSource {
  return {
    pieces: () => [entries],
    directoriesDeepestFirst: () => {
      const dirs = entries.filter((e) => e.type === "dir");
      const depth = (e: FileEntry) => e.path.split("/").length;
      return [dirs.sort((a, b) => depth(b) - depth(a) || (a.path < b.path ? 1 : a.path > b.path ? -1 : 0))];
    },
  };
}

/**
 * The identity a restore groups hard links by: the inode and everything an inode carries (size, mtime, mode, owner,
 * content, extended attributes); undefined for an entry that is not a file or recorded no inode. Entries that name
 * the same inode but disagree (an inode number reused, a hostile index) get different keys, so a link never gives a
 * file content or metadata of another.
 */
export function linkKey(e: FileEntry): string | undefined {
  if (e.type !== "file" || e.inode === undefined) return undefined;
  return [e.inode, e.size, e.mtimeMs, e.mode, e.uid, e.gid, e.chunks.join(","), JSON.stringify(e.xattrs ?? {})].join("\0");
}

/**
 * The keys ({@link linkKey}) of the selected files to restore as hard links of one another: those of which at least
 * one name recorded more than one link. (A name recorded before a link was made keeps `links` absent: the kernel
 * reports a new link as an event of the new name only, so it still joins its group.) Memory: the linked files only.
 */
export function linkedKeys(source: RestoreSource): ReadonlySet<string> {
  if (source.linked) return source.linked;
  const keys = new Set<string>();
  for (const piece of source.pieces()) for (const e of piece) addLinked(keys, e);
  return keys;
}

/** Adds `e`'s {@link linkKey} to `keys` when it recorded more than one link. */
export function addLinked(keys: Set<string>, e: FileEntry): void {
  if ((e.links ?? 1) <= 1) return;
  const key = linkKey(e);
  if (key !== undefined) keys.add(key);
}

/** The hard-link groups of a restore: which keys are linked, and the name restored first of each (its inode once made). */
export interface Links<T> {
  readonly keys: ReadonlySet<string>;
  readonly leaders: Map<string, Leader<T>>;
}

/** The first name of a hard-link group to be restored, and the inode it was restored as. */
export interface Leader<T> {
  readonly item: T;
  inode: number | undefined;
}

/**
 * Splits one piece's files into those restored as files (`firsts`: every file not linked, and the first name met of
 * each linked group, which becomes its leader) and those to be made links of a leader met in this piece or before.
 */
export function groupLinks<T extends { readonly entry: FileEntry }>(items: readonly T[], links: Links<T>) {
  const firsts: T[] = [];
  const followers: [T, Leader<T>][] = [];
  const leaderOf = new Map<T, Leader<T>>();
  for (const item of items) {
    const key = linkKey(item.entry);
    const linked = key !== undefined && links.keys.has(key);
    const leader = linked ? links.leaders.get(key) : undefined;
    if (leader) {
      followers.push([item, leader]);
      continue;
    }
    if (linked) {
      const mine: Leader<T> = { item, inode: undefined };
      links.leaders.set(key, mine);
      leaderOf.set(item, mine);
    }
    firsts.push(item);
  }
  return { firsts, followers, leaderOf };
}
