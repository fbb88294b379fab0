import { isUnder, systemClock, type ChangeEvent, type Clock } from "@rtbackup/core";

/** Options of {@link RescanCoalescer}. */
export interface RescanCoalescerOptions {
  /** Emit once no new rescan came for this long (ms). */
  readonly quietMs: number;
  /** Emit at the latest this long (ms) after the first pending rescan, however busy the source is. */
  readonly maxDelayMs: number;
  /** Receives the coalesced rescans: no path is under another one. */
  readonly emit: (events: ChangeEvent[]) => void;
  readonly clock?: Clock;
}

/**
 * Collects the rescans a source asks for (lost events, directories that saw events in fd mode) and hands them on as
 * one minimal set: a path under a pending one is dropped, a pending path under a new one is replaced by it. A burst
 * of ten thousand lost events thus becomes one rescan of the mount, emitted `quietMs` after the burst, and never
 * more than `maxDelayMs` after the first loss.
 */
export class RescanCoalescer {
  readonly #options: RescanCoalescerOptions;
  readonly #clock: Clock;
  readonly #pending = new Map<string, string>();
  #firstAt = 0;
  #timer: unknown;
  #closed = false;
  /** Rescans asked for and rescans emitted, for the stats. */
  requested = 0;
  emitted = 0;

  constructor(options: RescanCoalescerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** Number of paths waiting to be rescanned. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Asks for a rescan of `path` (a directory or a mount point) for `reason`. */
  add(path: string, reason: string): void {
    if (this.#closed) return;
    this.requested++;
    for (const pending of this.#pending.keys()) if (isUnder(path, pending)) return this.#arm();
    for (const pending of [...this.#pending.keys()]) if (isUnder(pending, path)) this.#pending.delete(pending);
    if (this.#pending.size === 0) this.#firstAt = this.#clock.now();
    this.#pending.set(path, reason);
    this.#arm();
  }

  /** Emits whatever is pending now. */
  flush(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.size === 0) return;
    const events: ChangeEvent[] = [...this.#pending].map(([path, reason]) => ({ type: "rescan", path, reason }));
    this.#pending.clear();
    this.emitted += events.length;
    this.#options.emit(events);
  }

  /** Drops what is pending and stops the timer. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending.clear();
  }

  #arm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    const { quietMs, maxDelayMs } = this.#options;
    const wait = Math.max(0, Math.min(quietMs, this.#firstAt + maxDelayMs - this.#clock.now()));
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, wait);
    (this.#timer as { unref?: () => void } | undefined)?.unref?.();
  }
}
