import { setImmediate as nextTurn } from "node:timers/promises";

/**
 * Lets long synchronous loops give the event loop a turn every `sliceMs` milliseconds. Synchronous /proc reads are
 * cheaper than their promise versions (measured about 1.2-1.5× for a full scan) and, above all, never queue behind
 * uploads and hashing that keep libuv's thread pool busy; so the scans run synchronously, in slices:
 * `if (slicer.due()) await slicer.yield();`. Short slices also keep a slice from being preempted on a busy machine.
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
