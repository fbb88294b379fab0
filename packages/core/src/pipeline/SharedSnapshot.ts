import type { Logger } from "../logger.js";
import type { Snapshot } from "../types.js";

/**
 * A snapshot shared by the files of one batch, reference-counted: every file holding it takes a reference and
 * gives it back when it is staged, uploaded, dropped or failed; the snapshot is released when the count reaches
 * zero. The batch itself holds one reference while it hands out the others, so one file that vanished early cannot
 * release the snapshot under the rest of the batch (a DQD bug).
 */
export class SharedSnapshot {
  readonly snapshot: Snapshot;
  readonly #log: Logger;
  readonly #onReleased: (s: SharedSnapshot) => void;
  #refs = 0;
  #released = false;

  constructor(snapshot: Snapshot, log: Logger, onReleased: (s: SharedSnapshot) => void = () => undefined) {
    this.snapshot = snapshot;
    this.#log = log;
    this.#onReleased = onReleased;
  }

  /** Whether this is the live (no snapshot) view. */
  get live(): boolean {
    return this.snapshot.name.startsWith("live:");
  }

  get references(): number {
    return this.#refs;
  }

  get released(): boolean {
    return this.#released;
  }

  acquire(): this {
    if (this.#released) throw new Error(`snapshot ${this.snapshot.name} used after release`);
    this.#refs++;
    return this;
  }

  /** Gives back one reference; the last one releases the snapshot (errors are logged, not thrown). */
  release(): void {
    if (this.#released || this.#refs <= 0) return;
    this.#refs--;
    if (this.#refs > 0) return;
    this.#released = true;
    this.#onReleased(this);
    this.snapshot.release().catch((err: unknown) => this.#log.error(`releasing snapshot ${this.snapshot.name} failed`, err));
  }
}

/** The live strategy: no snapshot, files are read where they are (stability checks guard consistency). */
export function liveSnapshot(filesystem: string, now: number): Snapshot {
  return {
    name: `live:${filesystem}`,
    filesystem,
    createdAt: now,
    pathOf: (livePath) => livePath,
    release: async () => undefined,
  };
}
