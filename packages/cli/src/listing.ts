import { isUnder, type FileEntry } from "@rtbackup/core";

/** A directory that has no entry of its own but holds backed-up paths (the parents of a backup root). */
export interface ImpliedDirectory {
  path: string;
  type: "dir";
  implied: true;
}

/** One line of `rtb list`. */
export type ListedEntry = FileEntry | ImpliedDirectory;

/** What `rtb list` shows for its arguments, and the arguments that matched nothing. */
export interface Listing {
  entries: ListedEntry[];
  missing: string[];
}

const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/** The child of `dir` on the way to `path` (a path under it): `/srv` and `/srv/data/x` give `/srv/data`. */
function childOnTheWay(dir: string, path: string): string {
  const rest = path.slice(dir === "/" ? 1 : dir.length + 1);
  const slash = rest.indexOf("/");
  return `${dir === "/" ? "" : dir}/${slash < 0 ? rest : rest.slice(0, slash)}`;
}

/**
 * Picks what `rtb list` shows. A file or symlink shows itself. A directory (`/`, a backed-up directory, or a parent
 * of one such as `/srv` for a backup of `/srv/data/x`) shows its immediate children: files, symlinks and
 * subdirectories, including {@link ImpliedDirectory implied} ones that hold backed-up paths without an entry of their
 * own. With `recursive` it shows its whole subtree (itself included when it has an entry, implied directories on the
 * way included too). `paths` are absolute (the caller resolves relative ones).
 */
export function listEntries(tree: ReadonlyMap<string, FileEntry>, paths: readonly string[], recursive: boolean): Listing {
  const chosen = new Map<string, ListedEntry>();
  const missing: string[] = [];
  const all = [...tree.values()].filter((e) => e.path.startsWith("/"));
  for (const raw of paths) {
    const dir = normalize(raw);
    const exact = tree.get(dir);
    if (exact && exact.type !== "dir") {
      chosen.set(dir, exact);
      continue;
    }
    let found = exact !== undefined;
    if (exact && recursive) chosen.set(dir, exact);
    for (const e of all) {
      if (e.path === dir || !isUnder(e.path, dir)) continue;
      found = true;
      const child = childOnTheWay(dir, e.path);
      if (recursive) {
        chosen.set(e.path, e);
        for (let p = child; p !== e.path; p = childOnTheWay(p, e.path))
          if (!tree.has(p) && !chosen.has(p)) chosen.set(p, { path: p, type: "dir", implied: true });
      } else if (child === e.path) chosen.set(child, e);
      else if (!chosen.has(child)) chosen.set(child, tree.get(child) ?? { path: child, type: "dir", implied: true });
    }
    if (!found) missing.push(raw);
  }
  return { entries: [...chosen.values()].sort(byPath), missing };
}

function normalize(path: string): string {
  const p = path.replace(/\/+/g, "/");
  return p.length > 1 && p.endsWith("/") ? p.slice(0, -1) : p;
}
