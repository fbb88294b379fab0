interface Entry {
  path: string;
  used: number;
}

/**
 * What the source knows about directories: handle key → absolute path, bounded, least recently used evicted first.
 * The kernel can resolve a live directory's handle to its current path, but not a deleted one (ESTALE), and a
 * directory rename must move every cached descendant with it, so the source keeps this map itself.
 *
 * Recency is a use counter rather than Map re-insertion, because a lookup happens for every event; when the map is
 * full the oldest eighth is evicted at once, which keeps eviction amortised O(log n).
 */
export class DirectoryCache {
  readonly #capacity: number;
  readonly #entries = new Map<string, Entry>();
  #clock = 0;

  constructor(capacity: number) {
    this.#capacity = Math.max(1, capacity);
  }

  /** Number of directories known. */
  get size(): number {
    return this.#entries.size;
  }

  /** The path last known for `key`, refreshing its recency. */
  get(key: string): string | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    entry.used = ++this.#clock;
    return entry.path;
  }

  /** Records (or corrects) the path of a directory. */
  set(key: string, path: string): void {
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      entry.path = path;
      entry.used = ++this.#clock;
      return;
    }
    if (this.#entries.size >= this.#capacity) this.#evict();
    this.#entries.set(key, { path, used: ++this.#clock });
  }

  /**
   * A directory moved from `from` to `to`: every known directory at or below `from` moves with it. Linear in the
   * cache size; directory renames are rare next to file events.
   */
  rename(from: string, to: string): void {
    const prefix = from.endsWith("/") ? from : `${from}/`;
    for (const entry of this.#entries.values()) {
      if (entry.path === from) entry.path = to;
      else if (entry.path.startsWith(prefix)) entry.path = to + entry.path.slice(from.length);
    }
  }

  /** Forgets everything (after an overflow, when renames may have been missed). */
  clear(): void {
    this.#entries.clear();
  }

  #evict(): void {
    const count = Math.max(1, this.#capacity >> 3);
    const stamps = [...this.#entries.values()].map((e) => e.used).sort((a, b) => a - b);
    const cutoff = stamps[Math.min(count, stamps.length) - 1]!;
    for (const [key, entry] of this.#entries) if (entry.used <= cutoff) this.#entries.delete(key);
  }
}
