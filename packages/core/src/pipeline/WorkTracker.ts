import { wakeAll } from "./waiters.js";

/**
 * Counts the pipeline's asynchronous work in flight: hook calls, file and store I/O, started by an event, a scan or
 * a timer. Waiting on the clock (a batch window, a poll interval, a backoff) is not work. So once {@link quiet}
 * resolves, only a timer firing or a new event can move the pipeline: a test on a manual clock advances it, awaits
 * `quiet()`, and asserts, with no polling and no real-time sleep.
 */
export class WorkTracker {
  #busy = 0;
  readonly #waiters: (() => void)[] = [];

  /** Pieces of work in flight. */
  get busy(): number {
    return this.#busy;
  }

  /** Runs `work`, counted until it settles. */
  run<T>(work: () => Promise<T>): Promise<T> {
    this.#busy++;
    let promise: Promise<T>;
    try {
      promise = work();
    } catch (err) {
      promise = Promise.reject(err);
    }
    const done = () => {
      if (--this.#busy === 0) wakeAll(this.#waiters.splice(0));
    };
    promise.then(done, done);
    return promise;
  }

  /**
   * Inside counted work: not counted while `waiting` is pending (work waiting for room in the pipeline waits on
   * other work, or on the clock, and is not in flight itself).
   */
  async aside<T>(waiting: Promise<T>): Promise<T> {
    if (--this.#busy === 0) wakeAll(this.#waiters.splice(0));
    try {
      return await waiting;
    } finally {
      this.#busy++;
    }
  }

  /**
   * Resolves when no work is in flight and none started during one more turn of the event loop (work that ends
   * can hand over to new work in a promise callback or an I/O callback of the same turn).
   */
  async quiet(): Promise<void> {
    for (;;) {
      while (this.#busy > 0) await new Promise<void>((resolve) => this.#waiters.push(resolve));
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.#busy === 0) return;
    }
  }
}
