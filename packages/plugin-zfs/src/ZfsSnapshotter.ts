import { access, mkdir, rmdir } from "node:fs/promises";
import { posix } from "node:path";
import { isErrno, messageOf, type Logger, type SnapshotRequest } from "@rtbackup/core";
import { cleanupStale, type CleanupStaleResult } from "./cleanupStale.js";
import { destroyDataset } from "./destroyDataset.js";
import { parseMountInfo, readProcMountInfo, type MountEntry } from "./MountTable.js";
import { ownerAlive } from "./ownerAlive.js";
import { parseZfsList, ZFS_LIST_COLUMNS, type ZfsDataset } from "./parseZfsList.js";
import { SnapshotNaming, hostTag } from "./SnapshotNaming.js";
import type { ZfsCommand } from "./ZfsCommand.js";
import { isDatasetMount, ZfsDatasetTable, zfsMountSignature, type ZfsMount } from "./ZfsDatasetTable.js";
import { ZfsError } from "./ZfsError.js";
import { ZfsSnapshot } from "./ZfsSnapshot.js";
import type { ResolvedZfsSnapshotOptions } from "./ZfsSnapshotOptions.js";

const RETRY_FIRST_MS = 10_000;
const RETRY_MAX_MS = 300_000;

/** A read-only clone of a snapshot and where it is mounted. */
interface CloneMount {
  readonly dataset: string;
  readonly mountpoint: string;
}

async function defaultPathExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** What a {@link ZfsSnapshotter} works with. */
export interface ZfsSnapshotterInit {
  /** The plugin's validated options. */
  readonly options: ResolvedZfsSnapshotOptions;
  /** The `zfs` command. */
  readonly zfs: ZfsCommand;
  /** Where discovery, release failures and cleanup are reported. */
  readonly log: Logger;
}

/**
 * The work of {@link ZfsSnapshotPlugin}: discovers datasets (`zfs list` + the mount table), destroys our stale
 * snapshots at start, makes one snapshot per dataset per batch (read through `.zfs/snapshot` or a read-only clone),
 * releases it (clone, then snapshot; busy retries, then background retries) and releases what is left at shutdown.
 */
export class ZfsSnapshotter {
  /** Names of our snapshots, clones and marks. */
  readonly naming: SnapshotNaming;
  readonly #options: ResolvedZfsSnapshotOptions;
  readonly #zfs: ZfsCommand;
  readonly #log: Logger;
  readonly #readMountInfo: () => Promise<string>;
  readonly #pathExists: (path: string) => Promise<boolean>;
  #table: ZfsDatasetTable;
  /** ZFS did not answer at start-up and `whenZfsDown` is `read-live`: no snapshots until the next start. */
  #readLive = false;
  #datasets: ZfsDataset[] = [];
  #snapdirs = new Map<string, boolean>();
  #signature: string | undefined;
  #refreshing: Promise<void> | undefined;
  readonly #everZfs = new Set<string>();
  readonly #live = new Set<ZfsSnapshot>();
  readonly #creating = new Set<Promise<unknown>>();
  readonly #pending = new Set<ZfsSnapshot>();
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelay = RETRY_FIRST_MS;
  #stale: CleanupStaleResult | undefined;

  constructor(init: ZfsSnapshotterInit) {
    this.#options = init.options;
    this.#zfs = init.zfs;
    this.#log = init.log;
    this.naming = new SnapshotNaming(init.options.snapshotPrefix, init.options.hostTag ?? hostTag());
    this.#readMountInfo = init.options.readMountInfo ?? readProcMountInfo;
    this.#pathExists = init.options.pathExists ?? defaultPathExists;
    this.#table = this.#buildTable([]);
  }

  /** The datasets and mounts found by the last discovery. */
  get table(): ZfsDatasetTable {
    return this.#table;
  }

  /** The mounted datasets found by the last discovery. */
  get mounts(): readonly ZfsMount[] {
    return this.#table.mounts;
  }

  /** Snapshots created and not yet released. */
  get liveSnapshots(): number {
    return this.#live.size;
  }

  /** Released snapshots whose destruction failed and is being retried in the background. */
  get pendingReleases(): number {
    return this.#pending.size;
  }

  /** What start-up cleanup destroyed (and failed to), once {@link ZfsSnapshotter.initialize} ran. */
  get staleCleanup(): CleanupStaleResult | undefined {
    return this.#stale;
  }

  /** The mount point of the deepest dataset containing `path`, or `undefined` when it is not on ZFS. */
  filesystemOf(path: string): string | undefined {
    return this.#table.filesystemOf(path);
  }

  #isOwnClone = (dataset: string): boolean => this.naming.parse(dataset.slice(dataset.lastIndexOf("/") + 1)) !== undefined;

  #buildTable(mounts: readonly MountEntry[]): ZfsDatasetTable {
    return new ZfsDatasetTable({
      datasets: this.#datasets,
      mounts,
      snapdirs: this.#snapdirs,
      isOwnClone: this.#isOwnClone,
    });
  }

  /** Start-up: creates the clone directory, discovers datasets, destroys our stale snapshots and logs what it found. */
  async initialize(): Promise<void> {
    if (this.#options.access !== "snapdir") await this.#createCloneDirectory();
    try {
      await this.#refresh(true);
    } catch (err) {
      if (this.#options.whenZfsDown !== "read-live" || !(err instanceof ZfsError) || err.reason !== "zfs-not-running") throw err;
      // No dataset is known, so no path maps to one: every file is read live, as on any other filesystem.
      this.#log.warn(`${err.message}; files on ZFS are read live, without snapshots, until the agent is restarted`);
      this.#readLive = true;
      return;
    }
    this.#stale = await cleanupStale({
      zfs: this.#zfs,
      naming: this.naming,
      filesystems: this.#datasets,
      ownerAlive: this.#options.ownerAlive ?? ownerAlive,
      cloneDirectory: this.#options.cloneDirectory,
      busyRetryTime: this.#options.busyRetryTime,
      log: this.#log,
    });
    if (this.#stale.destroyed.length) await this.#refresh(true);
    this.#logDiscovery();
  }

  async #createCloneDirectory(): Promise<void> {
    const dir = this.#options.cloneDirectory;
    await mkdir(dir, { recursive: true, mode: 0o700 }).catch((err: unknown) => {
      throw new ZfsError(
        isErrno(err, "EACCES", "EPERM", "EROFS") ? "permission-denied" : "failed",
        `cannot create the clone directory ${dir} (option cloneDirectory): ${messageOf(err)}`,
        undefined,
        { cause: err },
      );
    });
  }

  #logDiscovery(): void {
    const log = this.#log;
    for (const m of this.#table.mounts) {
      log.info(`dataset ${m.dataset} at ${m.mountpoint} (${m.fsType}): read through ${m.snapdir ? ".zfs/snapshot" : "a read-only clone"}`);
    }
    for (const d of this.#table.unmounted) {
      if (d.mounted) {
        log.warn(`ZFS says ${d.name} is mounted at ${d.mountpoint}, but this process does not see that mount; its files are not snapshotted`);
      } else log.debug(`dataset ${d.name} (mountpoint ${d.mountpoint}) is not mounted`);
    }
  }

  /** Re-reads the mount table; asks `zfs list` again when ZFS mounts changed (or `force`). */
  #refresh(force: boolean): Promise<void> {
    if (this.#refreshing && !force) return this.#refreshing;
    const run = (async () => {
      const mounts = parseMountInfo(await this.#readMountInfo());
      const signature = zfsMountSignature(mounts, this.#isOwnClone);
      if (force || signature !== this.#signature) {
        this.#datasets = await this.#listFilesystems();
        this.#snapdirs = await this.#probeSnapdirs(mounts);
        this.#signature = signature;
      }
      this.#table = this.#buildTable(mounts);
      // Only mounts seen: a dataset whose mountpoint property names a path it never occupied leaves that path to
      // whatever filesystem is really there (an unmounted `rpool` with mountpoint=/ must not claim `/`).
      for (const m of this.#table.mounts) this.#everZfs.add(m.mountpoint);
    })();
    const settled: Promise<void> = run.finally(() => {
      if (this.#refreshing === settled) this.#refreshing = undefined;
    });
    this.#refreshing = settled;
    return settled;
  }

  async #listFilesystems(): Promise<ZfsDataset[]> {
    const text = await this.#zfs.run(["list", "-H", "-o", ZFS_LIST_COLUMNS.join(","), "-t", "filesystem"]);
    try {
      return parseZfsList(text);
    } catch (err) {
      throw new ZfsError("failed", `could not parse zfs list output: ${messageOf(err)}`, undefined, { cause: err });
    }
  }

  async #probeSnapdirs(mounts: readonly MountEntry[]): Promise<Map<string, boolean>> {
    const roots = mounts.filter((m) => m.root === "/" && isDatasetMount(m, this.#isOwnClone)).map((m) => m.mountpoint);
    const forced = this.#options.access;
    const found = await Promise.all(
      roots.map(async (mp) => (forced === "clone" ? false : forced === "snapdir" ? true : this.#pathExists(posix.join(mp, ".zfs/snapshot")))),
    );
    return new Map(roots.map((mp, i) => [mp, found[i]!]));
  }

  /**
   * One snapshot of the dataset mounted at `request.filesystem`, or `undefined` when that is not (and never was) a
   * dataset mount. Shutdown waits for the snapshots being made here.
   */
  snapshot(request: SnapshotRequest): Promise<ZfsSnapshot | undefined> {
    const promise = this.#snapshot(request);
    this.#creating.add(promise);
    const forget = (): void => void this.#creating.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  async #snapshot(request: SnapshotRequest): Promise<ZfsSnapshot | undefined> {
    if (this.#readLive) return undefined;
    await this.#refresh(false);
    const mount = this.#table.mount(request.filesystem);
    if (!mount) {
      if (!this.#everZfs.has(request.filesystem)) return undefined;
      throw new ZfsError("not-mounted", `the ZFS dataset that was mounted at ${request.filesystem} is not mounted there now; mount it again (zfs mount)`);
    }
    const createdAt = Date.now();
    const shortName = this.naming.next(createdAt);
    const target = `${mount.dataset}@${shortName}`;
    await this.#zfs.run(["snapshot", target]);
    let clone: CloneMount | undefined;
    try {
      let accessRoot: string;
      if (mount.snapdir) {
        accessRoot = `${mount.snapdir}/${shortName}`;
        if (!(await this.#pathExists(accessRoot))) {
          throw new ZfsError("failed", `snapshot ${target} does not appear at ${accessRoot}`);
        }
      } else {
        const made = this.#clonePlace(mount.dataset, shortName);
        await this.#zfs.run(["clone", "-o", "readonly=on", "-o", `mountpoint=${made.mountpoint}`, target, made.dataset]);
        // Only a clone this call made is ours to destroy if what follows fails.
        clone = made;
        await this.#ensureMounted(clone);
        accessRoot = clone.mountpoint;
      }
      const snapshot = new ZfsSnapshot({
        dataset: mount.dataset,
        shortName,
        filesystem: request.filesystem,
        root: mount.root,
        accessRoot,
        ...(clone ? { clone } : {}),
        createdAt,
        filesystemOf: (path) => this.#table.filesystemOf(path),
        destroy: (s) => this.#release(s),
      });
      this.#live.add(snapshot);
      this.#log.debug(`snapshot ${target} for ${request.paths.length} path(s), read at ${accessRoot}`);
      return snapshot;
    } catch (err) {
      await this.#destroyQuietly(target, clone);
      throw err;
    }
  }

  /** The clone of snapshot `shortName` of `dataset`: `<parent dataset>/<shortName>`, mounted in the clone directory. */
  #clonePlace(dataset: string, shortName: string): CloneMount {
    const slash = dataset.lastIndexOf("/");
    const parent = slash < 0 ? dataset : dataset.slice(0, slash);
    return { dataset: `${parent}/${shortName}`, mountpoint: posix.join(this.#options.cloneDirectory, shortName) };
  }

  /** A clone must be mounted before files are read from it: an empty directory would look like deleted files. */
  async #ensureMounted(clone: CloneMount): Promise<void> {
    const mounted = async (): Promise<boolean> =>
      parseMountInfo(await this.#readMountInfo()).some((m) => m.mountpoint === clone.mountpoint && m.source === clone.dataset);
    if (await mounted()) return;
    await this.#zfs.run(["mount", clone.dataset]);
    if (!(await mounted())) {
      throw new ZfsError("not-mounted", `clone ${clone.dataset} did not mount at ${clone.mountpoint}`);
    }
  }

  async #destroyQuietly(target: string, clone: CloneMount | undefined): Promise<void> {
    try {
      if (clone) await this.#destroyClone(clone);
      await destroyDataset(this.#zfs, target, this.#options.busyRetryTime);
    } catch (err) {
      this.#log.warn(`could not destroy ${target} after a failed snapshot; start-up cleanup will: ${messageOf(err)}`);
    }
  }

  async #destroyClone(clone: CloneMount): Promise<void> {
    await destroyDataset(this.#zfs, clone.dataset, this.#options.busyRetryTime);
    await rmdir(clone.mountpoint).catch(() => undefined);
  }

  async #destroy(snapshot: ZfsSnapshot): Promise<void> {
    if (snapshot.clone) await this.#destroyClone(snapshot.clone);
    await destroyDataset(this.#zfs, snapshot.name, this.#options.busyRetryTime);
  }

  /**
   * `Snapshot.release()`: destroys the clone, then the snapshot. It never rejects: when ZFS still refuses after
   * `busyRetryTime`, the failure is logged and the destroy retried in the background (and at shutdown; whatever is
   * left, the next start's cleanup removes).
   */
  async #release(snapshot: ZfsSnapshot): Promise<void> {
    this.#live.delete(snapshot);
    try {
      await this.#destroy(snapshot);
    } catch (err) {
      this.#log.warn(`could not release ${snapshot.name}, will retry: ${messageOf(err)}`);
      this.#pending.add(snapshot);
      this.#scheduleRetry();
    }
  }

  #scheduleRetry(): void {
    if (this.#retryTimer) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#retryPending().then((left) => {
        this.#retryDelay = left ? Math.min(this.#retryDelay * 2, RETRY_MAX_MS) : RETRY_FIRST_MS;
        if (left) this.#scheduleRetry();
      });
    }, this.#retryDelay);
    this.#retryTimer.unref();
  }

  /** Tries once more to destroy every snapshot whose release failed; returns how many are still left. */
  async #retryPending(): Promise<number> {
    for (const snapshot of [...this.#pending]) {
      try {
        await this.#destroy(snapshot);
        this.#pending.delete(snapshot);
        this.#log.info(`released ${snapshot.name} after an earlier failure`);
      } catch (err) {
        this.#log.debug(`still cannot release ${snapshot.name}: ${messageOf(err)}`);
      }
    }
    return this.#pending.size;
  }

  /** Waits for snapshots being made, releases every live one, and tries once more to destroy the pending ones. */
  async shutdown(): Promise<void> {
    await Promise.allSettled([...this.#creating]);
    for (const snapshot of [...this.#live]) await snapshot.release();
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const left = await this.#retryPending();
    if (left) this.#log.warn(`${left} snapshot(s) could not be destroyed; the next start will destroy them`);
  }
}
