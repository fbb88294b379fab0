import type { ChangeEvent } from "../types.js";

/**
 * Events held while monitoring is paused (DQD's pause/unpause). Bounded: past `limit` events it only remembers that
 * it overflowed, and the caller replaces what was lost with a rescan.
 */
export class PauseBuffer {
  readonly #limit: number;
  #paused = false;
  #events: ChangeEvent[] = [];
  #overflow = false;

  constructor(limit = 100_000) {
    this.#limit = limit;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Events held. */
  get count(): number {
    return this.#events.length;
  }

  pause(): void {
    this.#paused = true;
  }

  /** Holds `event` if paused; false when it should be processed now. */
  hold(event: ChangeEvent): boolean {
    if (!this.#paused) return false;
    if (this.#events.length < this.#limit) this.#events.push(event);
    else this.#overflow = true;
    return true;
  }

  /** Unpauses and hands back what was held. */
  release(): { events: ChangeEvent[]; overflow: boolean } {
    const held = { events: this.#events, overflow: this.#overflow };
    this.#paused = false;
    this.#events = [];
    this.#overflow = false;
    return held;
  }
}
