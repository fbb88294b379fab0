import { dirname, resolve } from "node:path";
import { isUnder } from "../mounts/mountPaths.js";
import type { FileEntry } from "../types.js";

/** Entries selected by `select`, and the requested paths that matched nothing. */
export interface Selection {
  entries: FileEntry[];
  missing: string[];
}

/** A requested path as a tree names it: absolute, no trailing slash. */
export function normalizeRequest(path: string): string {
  const p = resolve("/", path);
  return p.length > 1 && p.endsWith("/") ? p.slice(0, -1) : p;
}

/**
 * Picks entries: each requested path that is a file or symlink selects itself; a directory selects the files
 * directly in it, or its whole subtree with `recursive` (directories included, to restore their metadata).
 */
export function selectEntries(tree: Map<string, FileEntry>, paths: readonly string[], recursive: boolean): Selection {
  const chosen = new Map<string, FileEntry>();
  const missing: string[] = [];
  const all = [...tree.values()];
  for (const raw of paths) {
    const path = normalizeRequest(raw);
    if (path === "/" && recursive) {
      // Everything, including entries whose paths are malformed, so that restore reports them.
      for (const e of all) chosen.set(e.path, e);
      if (all.length === 0) missing.push(raw);
      continue;
    }
    const exact = tree.get(path);
    let found = false;
    if (exact && exact.type !== "dir") {
      chosen.set(path, exact);
      continue;
    }
    if (exact) {
      chosen.set(path, exact);
      found = true;
    }
    for (const e of all) {
      if (e.path === path || !isUnder(e.path, path)) continue;
      const direct = dirname(e.path) === path;
      if (recursive || (direct && e.type !== "dir")) {
        chosen.set(e.path, e);
        found = true;
      }
    }
    if (!found) missing.push(raw);
  }
  return { entries: [...chosen.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)), missing };
}
