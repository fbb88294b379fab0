import { StorageError } from "../errors.js";

/** Exponential backoff with full jitter: attempt 1 → up to `base`, doubling, capped at `max`. */
export function backoffDelay(attempt: number, base = 500, max = 60_000, random: () => number = Math.random): number {
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** How long retries wait: the first after up to `baseMs`, doubling up to `maxMs` (with jitter). */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/** Production defaults: 1 s doubling to 5 minutes. */
export const defaultBackoff: BackoffPolicy = { baseMs: 1_000, maxMs: 300_000 };

/** True unless the error says a retry cannot help. Unknown errors are assumed transient: nothing is dropped. */
export function isTransient(err: unknown): boolean {
  if (err instanceof StorageError) return err.transient;
  return true;
}

/** Resolves after `ms`, or rejects early when `signal` aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
