import type { BackupAction } from "../types.js";
import type { SharedSnapshot } from "./SharedSnapshot.js";
import type { StagedFile, StagingArea } from "./StagingArea.js";

/**
 * What a queued upload holds until it is done: a reference to its batch's snapshot and/or a staging copy. Released
 * once after the action ran, or when the action queue replaced it with a newer upload of the same path.
 */
export class ActionHolds {
  readonly #holds = new WeakMap<BackupAction, { shared: SharedSnapshot | undefined; staged: StagedFile | undefined }>();
  readonly #staging: StagingArea;

  constructor(staging: StagingArea) {
    this.#staging = staging;
  }

  /** Records what `action` holds. */
  hold(action: BackupAction, shared: SharedSnapshot | undefined, staged: StagedFile | undefined): void {
    this.#holds.set(action, { shared, staged });
  }

  /** Releases what `action` holds (its snapshot reference, its staging copy); a no-op the second time. */
  async release(action: BackupAction): Promise<void> {
    const hold = this.#holds.get(action);
    if (!hold) return;
    this.#holds.delete(action);
    hold.shared?.release();
    if (hold.staged) await this.#staging.discard(hold.staged);
  }
}
