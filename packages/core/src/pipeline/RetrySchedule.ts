import type { Clock } from "../clock.js";
import { backoffDelay, defaultBackoff, type BackoffPolicy } from "./retry.js";

/** What {@link RetrySchedule.failed} decided. */
export type RetryDecision = { attempts: number; retryAt: number } | { attempts: number; gaveUp: true };

/**
 * Per-path failure counts and retry timers: each failure waits longer (exponential backoff with jitter), and a
 * bounded run gives up after `maxAttempts`. One timer per path, however often it fails meanwhile.
 */
export class RetrySchedule {
  readonly #clock: Clock;
  readonly #policy: BackoffPolicy;
  readonly #maxAttempts: number | undefined;
  readonly #retry: (path: string) => void;
  readonly #attempts = new Map<string, number>();
  readonly #timers = new Map<string, unknown>();

  /** `retry` is called when a path's wait is over. */
  constructor(clock: Clock, policy: BackoffPolicy | undefined, maxAttempts: number | undefined, retry: (path: string) => void) {
    this.#clock = clock;
    this.#policy = policy ?? defaultBackoff;
    this.#maxAttempts = maxAttempts;
    this.#retry = retry;
  }

  /** Paths waiting for a retry. */
  get waiting(): number {
    return this.#timers.size;
  }

  /** A path succeeded: its count starts again. */
  succeeded(path: string): void {
    this.#attempts.delete(path);
  }

  /** Records a failure and schedules the retry, or gives up (bounded runs). */
  failed(path: string): RetryDecision {
    const attempts = (this.#attempts.get(path) ?? 0) + 1;
    this.#attempts.set(path, attempts);
    if (this.#maxAttempts && attempts >= this.#maxAttempts) {
      this.#attempts.delete(path);
      return { attempts, gaveUp: true };
    }
    const wait = backoffDelay(attempts, this.#policy.baseMs, this.#policy.maxMs);
    if (!this.#timers.has(path)) {
      this.#timers.set(
        path,
        this.#clock.setTimeout(() => {
          this.#timers.delete(path);
          this.#retry(path);
        }, wait),
      );
    }
    return { attempts, retryAt: this.#clock.now() + wait };
  }

  /** Cancels every pending retry. */
  close(): void {
    for (const t of this.#timers.values()) this.#clock.clearTimeout(t);
    this.#timers.clear();
  }
}
