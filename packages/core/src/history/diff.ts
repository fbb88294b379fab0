import { isDeepStrictEqual } from "node:util";
import type { FileEntry } from "../types.js";
import { contentIdOf, isAtOrUnder } from "./versions.js";

/** What differs of one path between two moments. */
export interface Change {
  readonly path: string;
  readonly kind: "added" | "removed" | "changed";
  /** For `changed`: which of the entry's parts differ (`type`, `content`, `size`, `mode`, `mtime`, `owner`, `xattrs`, `links`). */
  readonly parts: readonly string[];
  readonly before?: FileEntry;
  readonly after?: FileEntry;
}

/** The parts in which two entries of one path differ (none: the same version). */
export function changedParts(a: FileEntry, b: FileEntry): string[] {
  const parts: string[] = [];
  if (a.type !== b.type) parts.push("type");
  if (contentIdOf(a) !== contentIdOf(b) || a.major !== b.major || a.minor !== b.minor) parts.push("content");
  if (a.size !== b.size) parts.push("size");
  if (a.mode !== b.mode) parts.push("mode");
  if (a.mtimeMs !== b.mtimeMs) parts.push("mtime");
  if (a.uid !== b.uid || a.gid !== b.gid || a.user !== b.user || a.group !== b.group) parts.push("owner");
  if (!isDeepStrictEqual(a.xattrs ?? {}, b.xattrs ?? {})) parts.push("xattrs");
  if ((a.links ?? 1) !== (b.links ?? 1)) parts.push("links");
  return parts;
}

/**
 * What changed from tree `a` to tree `b` at or under `root` (default: everything), in path order: entries only in
 * `b` are added, only in `a` removed, in both with a part that differs changed. Inode numbers are not compared: a
 * rename on the host gives a new one, which says nothing about the file.
 */
export function diffTrees(a: ReadonlyMap<string, FileEntry>, b: ReadonlyMap<string, FileEntry>, root = "/"): Change[] {
  const out: Change[] = [];
  for (const [path, before] of a) {
    if (!isAtOrUnder(path, root)) continue;
    const after = b.get(path);
    if (!after) out.push({ path, kind: "removed", parts: [], before });
    else {
      const parts = changedParts(before, after);
      if (parts.length) out.push({ path, kind: "changed", parts, before, after });
    }
  }
  for (const [path, after] of b) if (isAtOrUnder(path, root) && !a.has(path)) out.push({ path, kind: "added", parts: [], after });
  return out.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}
