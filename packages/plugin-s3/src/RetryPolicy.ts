import { StorageError, type Logger, type SecretRegistry } from "@rtbackup/core";
import { toStorageError } from "./toStorageError.js";

/** Options of {@link RetryPolicy}. */
export interface RetryPolicyOptions {
  /** Attempts in all (1 = no retry). */
  attempts: number;
  /** First delay in ms; doubled per attempt, capped at 30 s, with ±50 % jitter. */
  baseDelay: number;
  redactor: SecretRegistry;
  logger: Logger | undefined;
  /** Aborts pending waits (the storage was closed). */
  signal: AbortSignal;
}

/**
 * The storage's own retry around whole operations, on top of the SDK's per-request retries: it catches what the
 * SDK gave up on (its attempts or retry quota spent, a stream body that cannot be replayed, a body cut off
 * mid-transfer) and runs the operation again from the start, so a put reopens its body factory each time. Only
 * transient {@link StorageError}s are retried.
 */
export class RetryPolicy {
  readonly #o: RetryPolicyOptions;

  constructor(options: RetryPolicyOptions) {
    this.#o = options;
  }

  /** Attempts configured. */
  get attempts(): number {
    return this.#o.attempts;
  }

  /** Runs `fn` until it succeeds, fails permanently, or the attempts are spent; errors come out as StorageErrors. */
  async run<T>(operation: string, key: string | undefined, fn: (attempt: number) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(attempt);
      } catch (err) {
        const mapped = toStorageError(operation, key, err, this.#o.redactor);
        if (!mapped.transient || attempt >= this.#o.attempts || this.#o.signal.aborted) throw mapped;
        const delay = this.delayFor(attempt);
        this.#o.logger?.warn(`${mapped.message}; attempt ${attempt + 1} of ${this.#o.attempts} in ${delay} ms`);
        await this.wait(delay);
      }
    }
  }

  /** The backoff before attempt `attempt + 1`. */
  delayFor(attempt: number): number {
    const base = Math.min(30_000, this.#o.baseDelay * 2 ** (attempt - 1));
    return Math.round(base * (0.5 + Math.random()));
  }

  /** Waits `ms`, or rejects with ABORTED-style StorageError when the storage is closed meanwhile. */
  wait(ms: number): Promise<void> {
    const signal = this.#o.signal;
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(closedError());
        return;
      }
      const onAbort = () => {
        clearTimeout(timer);
        reject(closedError());
      };
      const timer = setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}

function closedError(): StorageError {
  return new StorageError("STORAGE_FAILED", "storage closed while waiting to retry", { transient: false });
}
