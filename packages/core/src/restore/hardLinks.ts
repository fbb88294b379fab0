import type { FileEntry } from "../types.js";

/**
 * Which restored files are to be hard links of which: entries that recorded the same inode (a file with more than
 * one name when it was read) and agree on everything an inode carries (size, mtime, mode, owner, content) are one
 * group. The first of a group, in the order given, is restored as a file; each other one maps to it here and becomes
 * a link to it. Entries that name the same inode but disagree (an inode number reused, a hostile index) are not
 * grouped: each is restored on its own, so a link never gives a file content or metadata of another.
 */
export function linkGroups<T extends { readonly entry: FileEntry }>(items: readonly T[]): Map<T, T> {
  const leaders = new Map<string, T>();
  const followers = new Map<T, T>();
  for (const item of items) {
    const e = item.entry;
    if (e.type !== "file" || e.inode === undefined || e.links === undefined || e.links < 2) continue;
    const key = [e.inode, e.size, e.mtimeMs, e.mode, e.uid, e.gid, e.chunks.join(",")].join("\0");
    const leader = leaders.get(key);
    if (leader) followers.set(item, leader);
    else leaders.set(key, item);
  }
  return followers;
}
