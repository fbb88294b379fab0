import type { Clock } from "../clock.js";
import { backoffDelay, defaultBackoff, type BackoffPolicy } from "./retry.js";

/** What {@link RetrySchedule.failed} decided. */
export type RetryDecision = { attempts: number; retryAt: number } | { attempts: number; gaveUp: true };

/**
 * The pipeline's one retry mechanism: per-key failure counts and retry timers on the injected clock. Each failure
 * waits longer (exponential backoff with jitter), and a bounded run gives up after `maxAttempts`. One timer per key,
 * however often it fails meanwhile.
 */
export class RetrySchedule {
  readonly #clock: Clock;
  readonly #policy: BackoffPolicy;
  readonly #maxAttempts: number | undefined;
  readonly #attempts = new Map<string, number>();
  readonly #timers = new Map<string, unknown>();

  constructor(clock: Clock, policy: BackoffPolicy | undefined, maxAttempts: number | undefined) {
    this.#clock = clock;
    this.#policy = policy ?? defaultBackoff;
    this.#maxAttempts = maxAttempts;
  }

  /** Keys waiting for a retry. */
  get waiting(): number {
    return this.#timers.size;
  }

  /** `key` succeeded: its count starts again. */
  succeeded(key: string): void {
    this.#attempts.delete(key);
  }

  /** Records a failure and schedules `retry` after the backoff, or gives up (bounded runs). */
  failed(key: string, retry: () => void): RetryDecision {
    const attempts = (this.#attempts.get(key) ?? 0) + 1;
    this.#attempts.set(key, attempts);
    if (this.#maxAttempts && attempts >= this.#maxAttempts) {
      this.#attempts.delete(key);
      return { attempts, gaveUp: true };
    }
    const wait = backoffDelay(attempts, this.#policy.baseMs, this.#policy.maxMs);
    if (!this.#timers.has(key)) {
      this.#timers.set(
        key,
        this.#clock.setTimeout(() => {
          this.#timers.delete(key);
          retry();
        }, wait),
      );
    }
    return { attempts, retryAt: this.#clock.now() + wait };
  }

  /** Records a failure that no retry can help: given up now. */
  giveUp(key: string): RetryDecision {
    const attempts = (this.#attempts.get(key) ?? 0) + 1;
    this.#attempts.delete(key);
    return { attempts, gaveUp: true };
  }

  /** Cancels every pending retry. */
  close(): void {
    for (const t of this.#timers.values()) this.#clock.clearTimeout(t);
    this.#timers.clear();
  }
}
