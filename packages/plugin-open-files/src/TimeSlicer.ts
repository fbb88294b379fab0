import { setImmediate as nextTurn } from "node:timers/promises";

/**
 * Lets long synchronous loops give the event loop a turn every `sliceMs` milliseconds. Synchronous /proc reads are
 * several times cheaper than their promise versions (no thread-pool hop, and no queueing behind uploads that keep
 * the pool busy), so the scans run synchronously in slices: `if (slicer.due()) await slicer.yield();`.
 */
export class TimeSlicer {
  readonly #sliceMs: number;
  #sliceStart = performance.now();

  constructor(sliceMs: number) {
    this.#sliceMs = sliceMs;
  }

  /** True when the current slice has used its time. */
  due(): boolean {
    return performance.now() - this.#sliceStart >= this.#sliceMs;
  }

  /** Gives the event loop one turn and starts a new slice. */
  async yield(): Promise<void> {
    await nextTurn();
    this.#sliceStart = performance.now();
  }
}
