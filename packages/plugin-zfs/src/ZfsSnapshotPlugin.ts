import type { BackupPlugin, Engine } from "@rtbackup/core";
import type { CleanupStaleResult } from "./cleanupStale.js";
import { spawnExec } from "./spawnExec.js";
import { ZfsChangeTracker } from "./ZfsChangeTracker.js";
import { ZfsCommand } from "./ZfsCommand.js";
import type { ZfsMount } from "./ZfsDatasetTable.js";
import { ZfsError } from "./ZfsError.js";
import { parseZfsSnapshotOptions, type ResolvedZfsSnapshotOptions } from "./ZfsSnapshotOptions.js";
import { ZfsSnapshotter } from "./ZfsSnapshotter.js";

const PLUGIN_NAME = "ZfsSnapshotPlugin";

/**
 * The ZFS snapshot strategy. One snapshot per dataset per batch (`<prefix>-<host>-<pid>-<time>-<n>`), read through
 * `.zfs/snapshot/<name>` where it exists (OpenZFS) or a read-only clone mounted in a private directory where it does
 * not (zfs-fuse); released (clone, then snapshot) when the engine drops the last reference. Every `zfs` failure is a
 * {@link ZfsError} with code `SNAPSHOT_FAILED`, which the engine retries; it never makes files look deleted.
 *
 * Taps `initialize` (discover datasets, destroy our stale snapshots), `filesystem` (path → mount point of the
 * deepest dataset), `snapshot` and `shutdown`; the work is done by a `ZfsSnapshotter`.
 * {@link ZfsSnapshotPlugin.changes} offers `zfs diff` catch-up.
 */
export class ZfsSnapshotPlugin implements BackupPlugin {
  readonly name = PLUGIN_NAME;
  readonly #options: ResolvedZfsSnapshotOptions;
  #snapshotter: ZfsSnapshotter | undefined;
  #changes: ZfsChangeTracker | undefined;

  /** Validates options (see {@link ZfsSnapshotOptions}); a bad one throws a `ConfigError` naming it. */
  constructor(options?: unknown) {
    this.#options = parseZfsSnapshotOptions(options);
  }

  /** Taps `initialize`, `filesystem`, `snapshot` and `shutdown`. No I/O. */
  apply(engine: Engine): void {
    const options = this.#options;
    const zfs = new ZfsCommand(options.zfsBinaryPath ?? engine.parameters.zfsBinaryPath, options.exec ?? spawnExec, options.commandTimeout);
    const snapshotter = new ZfsSnapshotter({ options, zfs, log: engine.getLogger(PLUGIN_NAME) });
    this.#snapshotter = snapshotter;
    this.#changes = new ZfsChangeTracker(zfs, snapshotter.naming, () => snapshotter.table, options.busyRetryTime);
    engine.hooks.initialize.tapPromise(PLUGIN_NAME, () => snapshotter.initialize());
    engine.hooks.filesystem.tap(PLUGIN_NAME, (path) => snapshotter.filesystemOf(path));
    engine.hooks.snapshot.tapPromise(PLUGIN_NAME, (request) => snapshotter.snapshot(request));
    engine.hooks.shutdown.tapPromise(PLUGIN_NAME, () => snapshotter.shutdown());
  }

  /** `zfs diff` catch-up (marks, changes since a mark). Available once the plugin is applied. */
  get changes(): ZfsChangeTracker {
    if (!this.#changes) throw new ZfsError("failed", `${PLUGIN_NAME} is not applied to an engine`);
    return this.#changes;
  }

  /** The mounted datasets found by the last discovery. */
  get mounts(): readonly ZfsMount[] {
    return this.#snapshotter?.mounts ?? [];
  }

  /** Snapshots created and not yet released. */
  get liveSnapshots(): number {
    return this.#snapshotter?.liveSnapshots ?? 0;
  }

  /** Released snapshots whose destruction failed and is being retried in the background. */
  get pendingReleases(): number {
    return this.#snapshotter?.pendingReleases ?? 0;
  }

  /** What start-up cleanup destroyed (and failed to), once `initialize` ran. */
  get staleCleanup(): CleanupStaleResult | undefined {
    return this.#snapshotter?.staleCleanup;
  }
}
