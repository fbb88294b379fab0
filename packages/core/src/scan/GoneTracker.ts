import type { EntryStats } from "@rtbackup/linux-fs";
import { isUnder } from "../mounts/mountPaths.js";
import { StateCache, type CachedChild, type DiskIdentity } from "../state/StateCache.js";

/**
 * What a scan compares, one directory at a time. When the walk enters a directory, the cache's entries directly in
 * it are read in one range ({@link StateCache.childrenOf}): each entry the walk finds there is compared with its
 * cached identity from that read, and when the listing is whole, the tracked names it did not hold are gone. No
 * set of every path seen is kept; the only paths remembered are those the cache keys by a hash (not UTF-8, or too
 * long), which its sorted keys cannot list by directory.
 *
 * "Present" is a name the scan took in (an entry the intake included) or one that is there but was not looked into
 * (another filesystem, an lstat that failed): never gone. A directory that could not be listed is never compared.
 */
export class GoneTracker {
  readonly #cache: StateCache;
  readonly #gone: string[] = [];
  readonly #seenHashed = new Set<string>();
  #dir: string | undefined;
  #children = new Map<string, CachedChild>();
  #present = new Set<string>();
  /** Present names whose entry is not a directory now: what the cache holds under them is gone. */
  #notDirectories = new Set<string>();

  constructor(cache: StateCache) {
    this.#cache = cache;
  }

  /**
   * An entry the scan took in (`name` in `dir`; `dir` undefined for the walk's root): it is present, and its cached
   * identity, to compare with its lstat, is returned.
   */
  take(dir: string | undefined, name: string, path: string, stats: EntryStats): DiskIdentity | undefined {
    const hashed = StateCache.isHashed(path);
    if (hashed) this.#seenHashed.add(path);
    if (dir === undefined) return this.#cache.identity(path);
    this.#enter(dir);
    this.#present.add(name);
    if (!stats.isDirectory()) this.#notDirectories.add(name);
    return hashed ? this.#cache.identity(path) : this.#children.get(name)?.identity;
  }

  /** Names in `dir` that are there but were not looked into. */
  kept(dir: string, names: readonly string[]): void {
    this.#enter(dir);
    for (const name of names) this.#present.add(name);
  }

  /**
   * A directory the scan excluded with its whole subtree and did not walk. It was not taken, so it is gone from its
   * parent if the cache tracks it, and the deletion of a tracked directory covers its subtree; what the cache tracks
   * under an untracked one is gone path by path (the hash-keyed ones, never seen, are found gone by {@link finish}).
   */
  excludedSubtree(path: string): void {
    if (this.#cache.identity(path)?.type === "dir") return;
    for (const entry of this.#cache.entriesUnder(path, { hashed: false })) if (entry.path !== path) this.#gone.push(entry.path);
  }

  /** `dir`'s listing is whole: what the cache tracks in it and the listing did not hold is gone. */
  complete(dir: string): void {
    this.#enter(dir);
    const prefix = dir === "/" ? "/" : `${dir}/`;
    for (const [name, { descendants }] of this.#children) {
      const path = prefix + name;
      if (!this.#present.has(name)) this.#gone.push(path);
      else if (descendants && this.#notDirectories.has(name)) {
        // A directory replaced by a file (or a symlink): what was tracked under it is gone.
        for (const entry of this.#cache.entriesUnder(path)) if (entry.path !== path) this.#gone.push(entry.path);
      }
    }
    this.#dir = undefined;
  }

  /**
   * Everything found gone under `roots`, sorted; a deleted directory's record covers its subtree, so paths under a
   * directory already in the list are left out. Hash-keyed entries are gone when not seen and not under `unseen`
   * (unreadable paths, filesystems not walked).
   */
  finish(roots: readonly string[], unseen: readonly string[]): string[] {
    const gone = this.#gone;
    for (const entry of this.#cache.hashedEntries()) {
      if (this.#seenHashed.has(entry.path) || !roots.some((root) => isUnder(entry.path, root))) continue;
      if (!unseen.some((m) => isUnder(entry.path, m))) gone.push(entry.path);
    }
    gone.sort();
    const out: string[] = [];
    let lastDir: string | undefined;
    for (const path of gone) {
      if (path === out[out.length - 1]) continue;
      if (lastDir !== undefined && isUnder(path, lastDir)) continue;
      if (this.#cache.identity(path)?.type === "dir") lastDir = path;
      out.push(path);
    }
    return out;
  }

  /** Starts on `dir` (its slices come one after another): its cached children are read once. */
  #enter(dir: string): void {
    if (this.#dir === dir) return;
    this.#dir = dir;
    this.#children = this.#cache.childrenOf(dir);
    this.#present = new Set();
    this.#notDirectories = new Set();
  }
}
