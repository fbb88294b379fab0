import {
  BackupError,
  ConfigError,
  MountTable,
  PathFilterPlugin,
  agentOwnPaths,
  fileSystemTypeMatches,
  findExecutable,
  isAgentOwnPath,
  isUnder,
  selectMounts,
  type BackupPlugin,
  type Engine,
  type MountInfo,
  type Parameters,
} from "@rtbackup/core";

/**
 * Imports a plugin package (typed: the cli's tsconfig references every plugin), with an error that says what is
 * missing. Packages are imported only when a setting asks for them, so an install without one still runs the rest.
 */
async function load<T>(pkg: string, importer: () => Promise<T>): Promise<T> {
  try {
    return await importer();
  } catch (err) {
    throw new BackupError("PLUGIN_MISSING", `the default preset needs ${pkg} (${(err as Error).message})`, { cause: err });
  }
}

const b2 = () => load("@rtbackup/plugin-b2", () => import("@rtbackup/plugin-b2"));
const s3 = () => load("@rtbackup/plugin-s3", () => import("@rtbackup/plugin-s3"));
const zfsPlugin = () => load("@rtbackup/plugin-zfs", () => import("@rtbackup/plugin-zfs"));
const openFiles = () => load("@rtbackup/plugin-open-files", () => import("@rtbackup/plugin-open-files"));
const fanotify = () => load("@rtbackup/plugin-fanotify", () => import("@rtbackup/plugin-fanotify"));

/** What the preset is assembled for. */
export type PresetMode = "daemon" | "backup" | "restore";

const ROOTS_PLUGIN = "MonitoredMountRootsPlugin";
const SCOPE_PLUGIN = "BackupScopePlugin";

/**
 * The monitored mounts (MonitorFileSystemTypes, PreferredMountPoints, one per filesystem tree) that are not the
 * agent's own: snapshot clones and `.zfs/snapshot` auto-mounts are views of data already backed up, and a store on
 * its own dataset must not back itself up. With `wanted`, only the mounts it accepts.
 */
function monitoredMounts(parameters: Parameters, table: MountTable, agent: readonly string[], wanted: (m: MountInfo) => boolean = () => true): MountInfo[] {
  const types = parameters.monitorFileSystemTypes;
  const candidates = table.visible.filter((m) => fileSystemTypeMatches(m.fsType, types) && !isAgentOwnPath(m.mountPoint, agent) && wanted(m));
  return selectMounts(candidates, { fileSystemTypes: types, preferredMountPoints: parameters.preferredMountPoints });
}

/**
 * The roots scans walk. Without BackupRoots: the monitored mounts, as DQD's surface area does. With BackupRoots: those
 * plus the monitored mounts below them (nested datasets), because a walk never crosses into another filesystem while
 * the source does report changes there: left out, a scan would take the files it cannot see for deleted.
 */
class MonitoredMountRootsPlugin implements BackupPlugin {
  readonly name = ROOTS_PLUGIN;
  readonly #agent: readonly string[];
  constructor(agent: readonly string[]) {
    this.#agent = agent;
  }
  apply(engine: Engine): void {
    engine.hooks.roots.tapPromise(ROOTS_PLUGIN, async (roots) => {
      const table = await MountTable.read();
      if (!roots.length) return monitoredMounts(engine.parameters, table, this.#agent).map((m) => m.mountPoint);
      const below = (m: MountInfo) => roots.some((root) => isUnder(m.mountPoint, root) && m.mountPoint !== root);
      const nested = monitoredMounts(engine.parameters, table, this.#agent, below).map((m) => m.mountPoint);
      return [...roots, ...nested];
    });
  }
}

/**
 * Keeps events to what is backed up: the agent's own files (staging copies, state cache, local store, clones) are
 * excluded wherever they live, so a store on a watched filesystem cannot feed its own writes back as changes; and
 * when BackupRoots are set, so is every path outside them (a source watches whole filesystems, a root may be a
 * part of one). Asked before the path filters, so a user `Include` rule cannot pull them back in.
 */
class BackupScopePlugin implements BackupPlugin {
  readonly name = SCOPE_PLUGIN;
  readonly #agent: readonly string[];
  constructor(agent: readonly string[]) {
    this.#agent = agent;
  }
  apply(engine: Engine): void {
    const roots = engine.parameters.backupRoots;
    engine.hooks.intake.tap({ name: SCOPE_PLUGIN, stage: -100 }, ({ path }) => {
      if (isAgentOwnPath(path, this.#agent)) return "exclude";
      if (roots.length && !roots.some((root) => isUnder(path, root))) return "exclude";
      return undefined;
    });
  }
}

/**
 * Whether ZFS snapshots are wanted: ZFS is monitored, the zfs command exists and a ZFS filesystem is mounted where
 * the backup reads (holding a BackupRoot or below one; anywhere when BackupRoots is empty). A pool mounted elsewhere
 * does not count: a backup of an ext4 home must not stop because an unrelated zfs-fuse daemon is down.
 */
async function zfsAvailable(parameters: Parameters): Promise<boolean> {
  if (!fileSystemTypeMatches("zfs", parameters.monitorFileSystemTypes)) return false;
  if (!(await findExecutable(parameters.zfsBinaryPath)).path) return false;
  const table = await MountTable.read().catch(() => undefined);
  if (!table) return false;
  const relevant = parameters.backupRoots.length ? whereRootsRead(table, parameters.backupRoots) : () => true;
  return table.visible.some((m) => (m.fsType === "zfs" || m.fsType === "fuse.zfs") && relevant(m));
}

/** The mounts a backup of `roots` reads: the one holding each root, and those mounted below a root. */
function whereRootsRead(table: MountTable, roots: readonly string[]): (m: MountInfo) => boolean {
  const holding = new Set(roots.map((root) => table.mountOf(root)));
  return (m) => holding.has(m) || roots.some((root) => isUnder(m.mountPoint, root));
}

/**
 * The mounts the fanotify source watches when BackupRoots are set: the monitored-type mount holding each root and the
 * monitored-type mounts below a root, one per filesystem tree. Watching every filesystem of the type instead would
 * report changes nobody backs up, and the source keeps a descriptor on each watched mount, which makes `umount` of
 * unrelated filesystems fail with "target is busy" while the daemon runs.
 */
function fanotifyMountPoints(parameters: Parameters, table: MountTable, agent: readonly string[]): string[] {
  const roots = parameters.backupRoots;
  const types = parameters.monitorFileSystemTypes;
  const mounts = monitoredMounts(parameters, table, agent, whereRootsRead(table, roots)).map((m) => m.mountPoint);
  if (mounts.length === 0) {
    const found = roots.map((root) => `${root} (${table.mountOf(root)?.fsType ?? "not mounted"})`).join(", ");
    throw new ConfigError(
      "EnableFileAccessNotify",
      `no BackupRoots lie on a filesystem of the monitored types ${types.join(", ")} (MonitorFileSystemTypes): ${found}; add the type or set EnableFileAccessNotify to false`,
    );
  }
  return mounts;
}

/**
 * The default preset: which plugins the parameters turn into. It lives in the CLI so core never imports a plugin;
 * plugin packages are imported only when a setting asks for them.
 * - every mode: the storage backend (`Storage`: local is built into core, `b2`, `s3`);
 * - backup and daemon: the backup scope (the agent's own directories, and paths outside BackupRoots when set, are
 *   never taken in), path filters, the open-files check (procfs, or lsof when asked), ZFS snapshots when ZFS is
 *   monitored and mounted where the backup reads (files read live, with a warning, when ZFS does not answer),
 *   roots from the monitored mounts when BackupRoots is empty;
 * - daemon: the fanotify source when EnableFileAccessNotify is true. It ignores the agent's own directories and
 *   the ZFS clone directory; with BackupRoots it watches only the filesystems holding them (or below them), else
 *   every mount of the monitored types (new ones included).
 *
 * A plugin whose name is among `explicit` (listed in the config file) is not added again.
 */
export async function presetPlugins(parameters: Parameters, mode: PresetMode = "backup", explicit: readonly BackupPlugin[] = []): Promise<BackupPlugin[]> {
  const given = new Set(explicit.map((p) => p.name));
  const plugins: BackupPlugin[] = [];
  const add = (plugin: BackupPlugin) => {
    if (!given.has(plugin.name)) plugins.push(plugin);
  };
  if (parameters.storage === "b2") add(new (await b2()).B2StoragePlugin());
  else if (parameters.storage === "s3") add(new (await s3()).S3StoragePlugin());
  if (mode === "restore") return plugins;

  let cloneDirectory: string | undefined;
  let zfs: BackupPlugin | undefined;
  if (await zfsAvailable(parameters)) {
    const { ZfsSnapshotPlugin, parseZfsSnapshotOptions } = await zfsPlugin();
    // Turned on by the mount table, not by the config: ZFS not answering at start-up is a warning (files read
    // live), never a daemon that does not start. A ZfsSnapshotPlugin listed in the config fails instead.
    const options = { zfsBinaryPath: parameters.zfsBinaryPath, whenZfsDown: "read-live" };
    cloneDirectory = parseZfsSnapshotOptions(options).cloneDirectory;
    zfs = new ZfsSnapshotPlugin(options);
  }
  // Core's own-paths rule, with the clone directory as one more of the agent's own directories.
  const agent = agentOwnPaths(parameters, cloneDirectory === undefined ? [] : [cloneDirectory]);
  add(new BackupScopePlugin(agent));
  add(new PathFilterPlugin());
  add(new MonitoredMountRootsPlugin(agent));
  add((await openFiles()).createStabilityPlugin(parameters));
  if (zfs) add(zfs);
  if (mode === "daemon" && parameters.enableFileAccessNotify) {
    const mountPoints = parameters.backupRoots.length ? fanotifyMountPoints(parameters, await MountTable.read(), agent) : undefined;
    add(new (await fanotify()).FanotifySourcePlugin({ ignorePaths: agent, ...(mountPoints ? { mountPoints } : {}) }));
  }
  return plugins;
}
