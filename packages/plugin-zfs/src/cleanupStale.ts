import { readdir, rmdir } from "node:fs/promises";
import { posix } from "node:path";
import { messageOf, type Logger } from "@rtbackup/core";
import { destroyDataset } from "./destroyDataset.js";
import type { SnapshotNaming, SnapshotOwner } from "./SnapshotNaming.js";
import type { ZfsCommand } from "./ZfsCommand.js";
import type { ZfsDataset } from "./parseZfsList.js";

/** What {@link cleanupStale} needs. */
export interface CleanupStaleInput {
  readonly zfs: ZfsCommand;
  readonly naming: SnapshotNaming;
  /** Filesystems from `zfs list -t filesystem` (clones are among them). */
  readonly filesystems: readonly ZfsDataset[];
  /** Whether the agent that made a snapshot may still be running. */
  readonly ownerAlive: (owner: SnapshotOwner) => boolean;
  readonly cloneDirectory: string;
  readonly busyRetryTime: number;
  readonly log: Logger;
}

/** What {@link cleanupStale} destroyed, and what it could not. */
export interface CleanupStaleResult {
  readonly destroyed: string[];
  readonly failed: string[];
}

/**
 * Destroys the snapshots and clones a crashed agent left behind: only names in our format with our prefix
 * ({@link SnapshotNaming}), made on another host (the pool moved) or by a process that is no longer running.
 * Clones go first (a snapshot with a clone cannot be destroyed). Anyone else's snapshots, our marks, and live
 * snapshots of another agent on this machine are never touched. Clone directories a crashed agent left in
 * `cloneDirectory` (a SIGKILL while `zfs clone` ran leaves an empty mount point without a clone) are removed when
 * empty. Failures are logged and reported, not thrown.
 */
export async function cleanupStale(input: CleanupStaleInput): Promise<CleanupStaleResult> {
  const { zfs, naming, log } = input;
  const stale = (shortName: string): boolean => {
    const owner = naming.parse(shortName);
    return owner !== undefined && (owner.host !== naming.host || !input.ownerAlive(owner));
  };
  const destroyed: string[] = [];
  const failed: string[] = [];
  const destroy = async (target: string): Promise<boolean> => {
    try {
      await destroyDataset(zfs, target, input.busyRetryTime);
      destroyed.push(target);
      return true;
    } catch (err) {
      failed.push(target);
      log.warn(`could not destroy stale ${target}: ${messageOf(err)}`);
      return false;
    }
  };

  for (const d of input.filesystems) {
    const shortName = d.name.slice(d.name.lastIndexOf("/") + 1);
    if (!d.origin?.endsWith(`@${shortName}`) || !stale(shortName)) continue;
    if (!(await destroy(d.name))) continue;
    const mp = d.mountpoint;
    if (mp && posix.dirname(mp) === input.cloneDirectory) await rmdir(mp).catch(() => undefined);
  }

  await removeStaleCloneDirectories(input.cloneDirectory, stale, destroyed, failed, log);

  const text = await zfs.run(["list", "-H", "-o", "name", "-t", "snapshot"]);
  for (const name of text.split("\n")) {
    const at = name.indexOf("@");
    if (at < 0 || !stale(name.slice(at + 1))) continue;
    await destroy(name);
  }
  if (destroyed.length) log.info(`destroyed ${destroyed.length} stale snapshot(s)/clone(s) of ours: ${destroyed.join(", ")}`);
  return { destroyed, failed };
}

/**
 * Removes the directories under `cloneDirectory` named like a stale snapshot of ours: what is left when the agent
 * died between creating a clone's mount point and the clone (or between destroying it and removing the directory).
 * Only empty, unmounted directories go (rmdir); anything else is reported and left alone.
 */
async function removeStaleCloneDirectories(
  cloneDirectory: string,
  stale: (shortName: string) => boolean,
  destroyed: string[],
  failed: string[],
  log: Logger,
): Promise<void> {
  const entries = await readdir(cloneDirectory, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isDirectory() || !stale(entry.name)) continue;
    const dir = posix.join(cloneDirectory, entry.name);
    try {
      await rmdir(dir);
      destroyed.push(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      failed.push(dir);
      log.warn(`could not remove the stale clone directory ${dir} (not empty, or still mounted): ${messageOf(err)}`);
    }
  }
}
