import { isUnder } from "../mounts/mountPaths.js";
import type { StateCache } from "../state/StateCache.js";

/**
 * The tracked paths under `root` a finished scan did not see, minus those under `unseen` (unreadable paths and
 * filesystems that were not walked: never deletions). A deleted directory's record covers its subtree, so paths
 * under a directory already in the list are left out. Sorted.
 */
export function goneSince(cache: StateCache, root: string, seen: ReadonlySet<string>, unseen: readonly string[]): string[] {
  const gone: string[] = [];
  for (const entry of cache.entriesUnder(root)) {
    if (!seen.has(entry.path) && !unseen.some((m) => isUnder(entry.path, m))) gone.push(entry.path);
  }
  gone.sort();
  const out: string[] = [];
  let lastDir: string | undefined;
  for (const path of gone) {
    if (lastDir !== undefined && isUnder(path, lastDir)) continue;
    if (cache.get(path)?.type === "dir") lastDir = path;
    out.push(path);
  }
  return out;
}
