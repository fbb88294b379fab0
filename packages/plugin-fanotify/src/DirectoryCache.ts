/**
 * What the source knows about directories: handle key → absolute path, bounded, least recently used evicted first.
 * The kernel can resolve a live directory's handle to its current path, but not a deleted one (ESTALE), and a
 * directory rename must move every cached descendant with it, so the source keeps this map itself.
 */
export class DirectoryCache {
  readonly #capacity: number;
  readonly #paths = new Map<string, string>();

  constructor(capacity: number) {
    this.#capacity = Math.max(1, capacity);
  }

  /** Number of directories known. */
  get size(): number {
    return this.#paths.size;
  }

  /** The path last known for `key`, refreshing its recency. */
  get(key: string): string | undefined {
    const path = this.#paths.get(key);
    if (path !== undefined) {
      this.#paths.delete(key);
      this.#paths.set(key, path);
    }
    return path;
  }

  /** Records (or corrects) the path of a directory. */
  set(key: string, path: string): void {
    this.#paths.delete(key);
    this.#paths.set(key, path);
    if (this.#paths.size > this.#capacity) {
      const oldest = this.#paths.keys().next().value as string;
      this.#paths.delete(oldest);
    }
  }

  /**
   * A directory moved from `from` to `to`: every known directory at or below `from` moves with it. Linear in the
   * cache size; directory renames are rare next to file events.
   */
  rename(from: string, to: string): void {
    const prefix = from.endsWith("/") ? from : `${from}/`;
    for (const [key, path] of this.#paths) {
      if (path === from) this.#paths.set(key, to);
      else if (path.startsWith(prefix)) this.#paths.set(key, to + path.slice(from.length));
    }
  }

  /** Forgets everything (after an overflow, when renames may have been missed). */
  clear(): void {
    this.#paths.clear();
  }
}
