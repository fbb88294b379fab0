import { isUnder, systemClock, type Clock, type ScanInfo } from "@rtbackup/core";

/** Options of {@link FdPeriodicRescan}. */
export interface FdPeriodicRescanOptions {
  /** The fd-mode mount points now (they change as datasets come and go). */
  readonly mountPoints: () => readonly string[];
  /** Shortest and longest interval (ms). */
  readonly minMs: number;
  readonly maxMs: number;
  /** The engine's `PeriodicRescanInterval` (ms): never wait longer than it. */
  readonly periodicMs: number;
  /** Asks for a rescan of one mount. */
  readonly rescan: (mountPoint: string) => void;
  readonly clock?: Clock;
}

/** How much longer than a scan the pause after it is: a scan then costs about 1 % of the time. */
export const FD_RESCAN_FACTOR = 100;

/** The interval after a scan of `lastScanMs`: 100 × it, clamped to `minMs … maxMs`, at most `periodicMs`. */
export function fdRescanInterval(lastScanMs: number | undefined, minMs: number, maxMs: number, periodicMs: number): number {
  const fitted = Math.min(Math.max((lastScanMs ?? 0) * FD_RESCAN_FACTOR, minMs), maxMs);
  return Math.min(fitted, periodicMs);
}

/**
 * The short periodic rescan of fd-mode mounts, where deletes and renames are never reported: the interval fits the
 * tree (100 × the last scan of the mount, 2 min … 1 h by default) instead of `PeriodicRescanInterval` (6 h). Told of
 * every engine scan, it measures the ones that cover an fd-mode mount and restarts its timer after each.
 */
export class FdPeriodicRescan {
  readonly #options: FdPeriodicRescanOptions;
  readonly #clock: Clock;
  readonly #started = new Map<string, number>();
  #lastScanMs: number | undefined;
  #timer: unknown;
  #stopped = true;

  constructor(options: FdPeriodicRescanOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** The interval now in force (ms). */
  get intervalMs(): number {
    const { minMs, maxMs, periodicMs } = this.#options;
    return fdRescanInterval(this.#lastScanMs, minMs, maxMs, periodicMs);
  }

  /** Starts the timer. */
  start(): void {
    if (this.#options.maxMs === 0) return;
    this.#stopped = false;
    this.#schedule();
  }

  /** Stops the timer. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** The engine's `scan` observer: times scans that cover an fd-mode mount. */
  observe(scan: ScanInfo & { readonly done: boolean }): void {
    const covered = this.#options.mountPoints().filter((m) => scan.roots.some((r) => isUnder(m, r) || isUnder(r, m)));
    if (covered.length === 0) return;
    const key = scan.roots.join("\n");
    if (!scan.done) {
      this.#started.set(key, this.#clock.now());
      return;
    }
    const started = this.#started.get(key);
    this.#started.delete(key);
    if (started === undefined) return;
    // Only a scan of a whole mount (or more) says how long the mount takes; a directory's rescan does not.
    if (covered.some((m) => scan.roots.some((r) => isUnder(m, r)))) {
      this.#lastScanMs = this.#clock.now() - started;
      if (!this.#stopped) this.#schedule();
    }
  }

  #schedule(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#stopped) return;
      for (const mountPoint of this.#options.mountPoints()) this.#options.rescan(mountPoint);
      this.#schedule();
    }, this.intervalMs);
    (this.#timer as { unref?: () => void } | undefined)?.unref?.();
  }
}
