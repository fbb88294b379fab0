import type { FileEntry } from "../types.js";

/**
 * Which restored files are to be hard links of which: entries that recorded the same inode and agree on everything
 * an inode carries (size, mtime, mode, owner, content, extended attributes) are one group when at least one of them recorded more than
 * one name. (A name recorded before a link was made keeps `links` absent: the kernel reports a new link as an event
 * of the new name only.) The first of a group, in the order given, is restored as a file; each other one maps to it
 * here and becomes a link to it. Entries that name the same inode but disagree (an inode number reused, a hostile
 * index) are not grouped: each is restored on its own, so a link never gives a file content or metadata of another.
 */
export function linkGroups<T extends { readonly entry: FileEntry }>(items: readonly T[]): Map<T, T> {
  // Only inodes some entry recorded with more names are looked at: the groups stay as small as the linked files.
  const linked = new Set<number>();
  for (const { entry: e } of items) if (e.type === "file" && e.inode !== undefined && (e.links ?? 1) > 1) linked.add(e.inode);
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const e = item.entry;
    if (e.type !== "file" || e.inode === undefined || !linked.has(e.inode)) continue;
    const key = [e.inode, e.size, e.mtimeMs, e.mode, e.uid, e.gid, e.chunks.join(","), JSON.stringify(e.xattrs ?? {})].join("\0");
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  const followers = new Map<T, T>();
  for (const group of groups.values()) {
    if (group.length < 2 || !group.some((item) => (item.entry.links ?? 1) > 1)) continue;
    for (const item of group.slice(1)) followers.set(item, group[0]!);
  }
  return followers;
}
