import { setTimeout as delay } from "node:timers/promises";
import { ZfsError } from "./ZfsError.js";
import type { ZfsCommand } from "./ZfsCommand.js";

const FIRST_DELAY_MS = 5;
const MAX_DELAY_MS = 500;

/**
 * `zfs destroy <target>`, retrying while ZFS answers "dataset is busy" for up to `busyRetryMs` (zfs-fuse says so
 * about half the time when a clone is destroyed right after files were read from it). A target that no longer
 * exists counts as destroyed. Any other failure, or busy past the deadline, throws the {@link ZfsError}.
 */
export async function destroyDataset(zfs: ZfsCommand, target: string, busyRetryMs: number): Promise<void> {
  const deadline = Date.now() + busyRetryMs;
  let wait = FIRST_DELAY_MS;
  for (;;) {
    try {
      await zfs.run(["destroy", target]);
      return;
    } catch (err) {
      if (err instanceof ZfsError && err.reason === "not-found") return;
      if (!(err instanceof ZfsError) || err.reason !== "busy" || Date.now() + wait > deadline) throw err;
    }
    await delay(wait);
    wait = Math.min(wait * 2, MAX_DELAY_MS);
  }
}
