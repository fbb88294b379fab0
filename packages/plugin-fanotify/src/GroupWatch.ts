import { systemClock, type Clock, type Logger } from "@rtbackup/core";

/** Options of {@link GroupWatch}. */
export interface GroupWatchOptions {
  /** Which group, for log lines: `fid` or `fd`. */
  readonly name: string;
  /** Opens a new group, marks its mounts and starts delivery; throws when it cannot. */
  readonly recreate: () => void;
  /** Called after a successful re-creation (the source rescans the group's mounts). */
  readonly recovered: () => void;
  /** Called after every failed attempt, with the error and the delay before the next one. */
  readonly failed?: (error: unknown, retryInMs: number) => void;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** First retry delay (ms). Default 1000. */
  readonly minDelayMs?: number;
  /** Largest retry delay (ms); the delay doubles up to it. Default 60000. */
  readonly maxDelayMs?: number;
}

/**
 * Brings a fanotify group back after a read error ended it: re-creates it (with its marks) at once, then with a
 * doubling backoff (1 s … 60 s) until it works. The source is never left silently dead: every failure is logged
 * and reported, and each re-creation is followed by a rescan of what the group covered.
 */
export class GroupWatch {
  readonly #options: GroupWatchOptions;
  readonly #clock: Clock;
  #timer: unknown;
  #delay: number;
  #closed = false;
  /** Successful re-creations. */
  recreated = 0;

  constructor(options: GroupWatchOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#delay = options.minDelayMs ?? 1000;
  }

  /** True while a re-creation is scheduled. */
  get pending(): boolean {
    return this.#timer !== undefined;
  }

  /** The group died: try to re-create it now, and keep trying with backoff. */
  lost(): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#attempt();
  }

  /** Stops retrying. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #attempt(): void {
    this.#timer = undefined;
    if (this.#closed) return;
    const { name, logger } = this.#options;
    try {
      this.#options.recreate();
    } catch (err) {
      const delay = this.#delay;
      this.#delay = Math.min(delay * 2, this.#options.maxDelayMs ?? 60_000);
      logger.error(`re-creating the fanotify ${name} group failed; next attempt in ${delay / 1000} s`, err);
      this.#options.failed?.(err, delay);
      this.#timer = this.#clock.setTimeout(() => this.#attempt(), delay);
      return;
    }
    this.#delay = this.#options.minDelayMs ?? 1000;
    this.recreated++;
    logger.warn(`fanotify ${name} group re-created; rescanning what it watches`);
    this.#options.recovered();
  }
}
