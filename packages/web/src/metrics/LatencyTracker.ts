/** Why a {@link LatencyTracker} stopped tracking a path before it finished. */
export type DropReason = "overflow" | "expired";

/** Options of {@link LatencyTracker}. */
export interface LatencyTrackerOptions {
  /** Paths tracked at once; starting one more drops the oldest. */
  readonly maxPaths: number;
  /** A path tracked for longer than this is dropped (it will never finish, or its latency means nothing). */
  readonly maxAgeMs: number;
  /** Monotonic milliseconds. */
  readonly now: () => number;
  /**
   * `first`: a second start of a tracked path keeps the first time (the latency of the oldest change not yet
   * done); `latest`: it restarts the clock (a retried upload).
   */
  readonly keep: "first" | "latest";
  /** Told about every path dropped unfinished. */
  readonly onDrop: (reason: DropReason) => void;
}

/**
 * Start times of the paths in flight between two hooks (a change and its commit, an upload's start and end), with a
 * bounded memory: at most `maxPaths` entries, none older than `maxAgeMs`. Entries are kept in start order, so the
 * oldest is always the first and both limits cost O(1) per start.
 */
export class LatencyTracker {
  readonly #options: LatencyTrackerOptions;
  readonly #started = new Map<string, number>();

  constructor(options: LatencyTrackerOptions) {
    this.#options = options;
  }

  /** Paths tracked now. */
  get size(): number {
    return this.#started.size;
  }

  /** Starts timing `path` (see {@link LatencyTrackerOptions.keep} for one that is timed already). */
  start(path: string): void {
    const now = this.#options.now();
    this.#expire(now);
    if (this.#started.has(path)) {
      if (this.#options.keep === "first") return;
      this.#started.delete(path);
    }
    if (this.#started.size >= this.#options.maxPaths) {
      const oldest = this.#started.keys().next();
      if (!oldest.done) this.#started.delete(oldest.value);
      this.#options.onDrop("overflow");
    }
    this.#started.set(path, now);
  }

  /** Seconds since `path` started, and forgets it; `undefined` when it is not tracked (or too old to count). */
  stop(path: string): number | undefined {
    const started = this.#started.get(path);
    if (started === undefined) return undefined;
    this.#started.delete(path);
    const elapsed = this.#options.now() - started;
    if (elapsed > this.#options.maxAgeMs) {
      this.#options.onDrop("expired");
      return undefined;
    }
    return Math.max(elapsed, 0) / 1000;
  }

  /** Stops tracking `path` without measuring it. */
  forget(path: string): void {
    this.#started.delete(path);
  }

  #expire(now: number): void {
    for (const [path, started] of this.#started) {
      if (now - started <= this.#options.maxAgeMs) return;
      this.#started.delete(path);
      this.#options.onDrop("expired");
    }
  }
}
