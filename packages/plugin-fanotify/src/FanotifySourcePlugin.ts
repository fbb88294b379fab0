import { agentOwnPaths, ConfigError, MountTable, type BackupPlugin, type Engine, type Logger, type MountInfo } from "@rtbackup/core";
import { FanotifySource } from "./FanotifySource.js";
import { FdPeriodicRescan } from "./FdPeriodicRescan.js";
import { MountWatcher } from "./MountWatcher.js";
import { emptyFanotifyStats, type FanotifyStats } from "./FanotifyStats.js";
import { parseFanotifyOptions, type FanotifySourceOptions, type ResolvedFanotifyOptions } from "./options.js";

const PLUGIN_NAME = "FanotifySourcePlugin";
/** The name this source reports its health under (`engine.sourceHealth`). */
const SOURCE_NAME = "fanotify";

/**
 * The fanotify change source. On `initialize` it selects the filesystems to watch from the mount table
 * (`MonitorFileSystemTypes`, `PreferredMountPoints`, or explicit `mountPoints`), marks them (FID mode where the
 * filesystem reports file handles, fd mode elsewhere) and starts submitting `update` / `move` / `delete` / `rescan`
 * events to the engine; on `shutdown` it closes the fanotify groups.
 */
export class FanotifySourcePlugin implements BackupPlugin {
  readonly name = PLUGIN_NAME;
  readonly #options: ResolvedFanotifyOptions;
  #source: FanotifySource | undefined;
  #mountWatcher: MountWatcher | undefined;
  #fdRescan: FdPeriodicRescan | undefined;

  constructor(options?: FanotifySourceOptions) {
    this.#options = parseFanotifyOptions(options);
  }

  apply(engine: Engine): void {
    engine.hooks.initialize.tapPromise(PLUGIN_NAME, async () => this.#start(engine));
    engine.hooks.shutdown.tapPromise(PLUGIN_NAME, async () => this.#stop());
    engine.hooks.scan.tap(PLUGIN_NAME, (scan) => this.#fdRescan?.observe(scan));
  }

  /** Counters of the running source (zeros before start). */
  get stats(): Readonly<FanotifyStats> {
    return this.#source?.stats ?? emptyFanotifyStats();
  }

  /** The mounts being watched and how, once started. */
  get watched(): readonly { readonly mountPoint: string; readonly fsType: string; readonly mode: "fid" | "fd" }[] {
    return this.#source?.watched ?? [];
  }

  /** Stops reading events (they queue in the kernel, which overflows into a rescan when full). */
  pause(): void {
    this.#source?.pause();
  }

  /** Resumes reading after {@link pause}. */
  resume(): void {
    this.#source?.resume();
  }

  async #start(engine: Engine): Promise<void> {
    const logger = engine.getLogger(PLUGIN_NAME);
    if (!engine.parameters.enableFileAccessNotify) {
      logger.info("EnableFileAccessNotify is false: not watching");
      return;
    }
    const select = async (allowNone: boolean) => {
      const p = engine.parameters;
      return selectMounts(await MountTable.read(this.#options.mountInfoPath), this.#options, p.monitorFileSystemTypes, p.preferredMountPoints, allowNone);
    };
    const mounts = await select(false);
    const source = this.#openSource(engine, mounts, logger);
    this.#startFdRescan(engine, source, logger);
    logger.info(`source health: ${engine.sourceHealth.summary()}`);
    if (!this.#options.mountPoints && this.#options.mountCheckInterval > 0) this.#watchMounts(source, mounts, () => select(true), logger);
  }

  /** Marks the mounts and starts reading events; own paths (core's rule, plus `ignorePaths`) are dropped here. */
  #openSource(engine: Engine, mounts: MountInfo[], logger: Logger): FanotifySource {
    const o = this.#options;
    const source = new FanotifySource({
      mounts,
      mode: o.mode,
      queue: o.queue ?? engine.parameters.fanotifyQueue,
      ignorePaths: agentOwnPaths(engine.parameters, o.ignorePaths),
      ignoreOwnProcess: o.ignoreOwnProcess,
      readBufferSize: o.readBufferSize,
      maxReadsPerWakeup: o.maxReadsPerWakeup,
      directoryCacheSize: o.directoryCacheSize,
      renameEvents: o.renameEvents,
      reportFdErrors: o.reportFdErrors,
      rescanDelay: o.rescanDelay,
      rescanEventDirectories: o.rescanEventDirectories,
      logger,
      submit: (event) => engine.submit(event),
      onHealth: (report) => engine.sourceHealth.report(SOURCE_NAME, report),
      onError: (error, mountPoints) => {
        for (const path of mountPoints) engine.hooks.failure.call({ path, stage: "source", error, attempts: 1 });
      },
    });
    source.open();
    this.#source = source;
    for (const w of source.watched) logger.info(`watching ${w.mountPoint} (${w.fsType}, ${w.mode} mode)`);
    return source;
  }

  /** fd mode never reports deletes and renames: rescans of the fd-mode mounts find them. */
  #startFdRescan(engine: Engine, source: FanotifySource, logger: Logger): void {
    const o = this.#options;
    const fdMounts = () => source.watched.filter((w) => w.mode === "fd").map((w) => w.mountPoint);
    if (fdMounts().length === 0) return;
    logger.info(
      `fd mode: ${source.reportsFdErrors ? "per-event open errors reported (FAN_REPORT_FD_ERROR)" : "a failed open of an event's file fails a read (no FAN_REPORT_FD_ERROR)"}; ` +
        "each is one lost event, covered by a rescan; deletes and renames are found by rescans" +
        (o.rescanEventDirectories ? " of the directories that saw events" : ""),
    );
    this.#fdRescan = new FdPeriodicRescan({
      mountPoints: fdMounts,
      minMs: o.minFdRescanInterval,
      maxMs: o.maxFdRescanInterval,
      periodicMs: engine.parameters.periodicRescanInterval,
      rescan: (path) => engine.submit({ type: "rescan", path, reason: "periodic rescan of an fd-mode mount" }),
    });
    this.#fdRescan.start();
  }

  /** Re-reads the mount table now and then, and watches filesystems mounted later (new datasets). */
  #watchMounts(source: FanotifySource, mounts: MountInfo[], select: () => Promise<MountInfo[]>, logger: Logger): void {
    let last = mounts.map(mountKey).join("\n");
    this.#mountWatcher = new MountWatcher({
      intervalMs: this.#options.mountCheckInterval,
      target: source,
      logger,
      select: async () => {
        const now = await select();
        const key = now.map(mountKey).join("\n");
        if (key === last) return undefined;
        last = key;
        return now;
      },
    });
    this.#mountWatcher.start();
  }

  async #stop(): Promise<void> {
    this.#fdRescan?.stop();
    this.#mountWatcher?.stop();
    this.#source?.close();
  }
}

function selectMounts(
  table: MountTable,
  options: ResolvedFanotifyOptions,
  defaultTypes: readonly string[],
  defaultPreferred: readonly string[],
  allowNone = false,
): MountInfo[] {
  if (options.mountPoints) {
    return options.mountPoints.map((point, i) => {
      const mount = table.find(point);
      if (!mount) {
        throw new ConfigError(`${PLUGIN_NAME}.options.mountPoints[${i}]`, `${point} is not a mount point`);
      }
      return mount;
    });
  }
  const fileSystemTypes = options.fileSystemTypes ?? defaultTypes;
  const mounts = table.select({
    fileSystemTypes,
    preferredMountPoints: options.preferredMountPoints ?? defaultPreferred,
  });
  if (mounts.length === 0 && !allowNone) {
    const present = [...new Set(table.visible.map((m) => m.fsType))].sort().join(", ");
    throw new ConfigError("MonitorFileSystemTypes", `no mounted filesystem of type ${fileSystemTypes.join(", ")} to watch (mounted types: ${present})`);
  }
  return mounts;
}

function mountKey(mount: MountInfo): string {
  return `${mount.mountPoint}\0${mount.major}:${mount.minor}`;
}
