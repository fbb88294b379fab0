import { access, constants } from "node:fs/promises";
import { join } from "node:path";
import {
  BackupError,
  ConfigError,
  MountTable,
  PathFilterPlugin,
  fileSystemTypeMatches,
  isUnder,
  selectMounts,
  type BackupPlugin,
  type Engine,
  type MountInfo,
  type Parameters,
} from "@rtbackup/core";

type PluginClass = new (options?: unknown) => BackupPlugin;

/** Imports a plugin package, with an error that says what is missing. */
async function load(pkg: string): Promise<Record<string, unknown>> {
  try {
    return (await import(pkg)) as Record<string, unknown>;
  } catch (err) {
    throw new BackupError("PLUGIN_MISSING", `the default preset needs ${pkg} (${(err as Error).message})`, { cause: err });
  }
}

function exported<T>(module: Record<string, unknown>, pkg: string, exportName: string): T {
  const value = module[exportName];
  if (typeof value !== "function") throw new BackupError("PLUGIN_MISSING", `${pkg} does not export ${exportName}`);
  return value as T;
}

async function pluginClass(pkg: string, exportName: string): Promise<PluginClass> {
  return exported<PluginClass>(await load(pkg), pkg, exportName);
}

/** What the preset is assembled for. */
export type PresetMode = "daemon" | "backup" | "restore";

const ROOTS_PLUGIN = "MonitoredMountRootsPlugin";
const SCOPE_PLUGIN = "BackupScopePlugin";
const SNAPSHOT_MOUNTS = /\/\.zfs\/snapshot(\/|$)/;

/**
 * The agent's own working directories (staging, state cache, the local store) and the directory where ZFS clones
 * are mounted: never backed up, and never watched, wherever they live.
 */
function agentPaths(parameters: Parameters, cloneDirectory: string | undefined): string[] {
  const paths = [parameters.stagingDirectory, parameters.remoteFileStateCachePath];
  if (parameters.storage === "local") paths.push(parameters.localStoragePath);
  if (cloneDirectory !== undefined) paths.push(cloneDirectory);
  return paths;
}

function isAgentPath(path: string, agent: readonly string[]): boolean {
  return SNAPSHOT_MOUNTS.test(path) || agent.some((dir) => isUnder(path, dir));
}

/**
 * The monitored mounts (MonitorFileSystemTypes, PreferredMountPoints, one per filesystem tree) that are not the
 * agent's own: snapshot clones and `.zfs/snapshot` auto-mounts are views of data already backed up, and a store on
 * its own dataset must not back itself up. With `wanted`, only the mounts it accepts.
 */
function monitoredMounts(parameters: Parameters, table: MountTable, agent: readonly string[], wanted: (m: MountInfo) => boolean = () => true): MountInfo[] {
  const types = parameters.monitorFileSystemTypes;
  const candidates = table.visible.filter((m) => fileSystemTypeMatches(m.fsType, types) && !isAgentPath(m.mountPoint, agent) && wanted(m));
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
    engine.hooks.intake.tapPromise({ name: SCOPE_PLUGIN, stage: -100 }, async ({ path }) => {
      if (isAgentPath(path, this.#agent)) return "exclude";
      if (roots.length && !roots.some((root) => isUnder(path, root))) return "exclude";
      return undefined;
    });
  }
}

/** Whether a program can be run: an absolute path, or a bare command name looked up in PATH (as spawn does). */
async function executable(program: string): Promise<boolean> {
  const candidates = program.includes("/")
    ? [program]
    : (process.env.PATH ?? "")
        .split(":")
        .filter(Boolean)
        .map((dir) => join(dir, program));
  for (const path of candidates) {
    if (
      await access(path, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return true;
  }
  return false;
}

/** Whether ZFS snapshots can be used: ZFS is monitored, the zfs command exists and a ZFS filesystem is mounted. */
async function zfsAvailable(parameters: Parameters): Promise<boolean> {
  if (!fileSystemTypeMatches("zfs", parameters.monitorFileSystemTypes)) return false;
  if (!(await executable(parameters.zfsBinaryPath))) return false;
  const table = await MountTable.read().catch(() => undefined);
  return Boolean(table?.visible.some((m) => m.fsType === "zfs" || m.fsType === "fuse.zfs"));
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
  const holding = new Set(roots.map((root) => table.mountOf(root)));
  const relevant = (m: MountInfo) => holding.has(m) || roots.some((root) => isUnder(m.mountPoint, root));
  const mounts = monitoredMounts(parameters, table, agent, relevant).map((m) => m.mountPoint);
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
 *   monitored and present, roots from the monitored mounts when BackupRoots is empty;
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
  if (parameters.storage === "b2") add(new (await pluginClass("@rtbackup/plugin-b2", "B2StoragePlugin"))());
  else if (parameters.storage === "s3") add(new (await pluginClass("@rtbackup/plugin-s3", "S3StoragePlugin"))());
  if (mode === "restore") return plugins;

  let cloneDirectory: string | undefined;
  let zfs: BackupPlugin | undefined;
  if (await zfsAvailable(parameters)) {
    const pkg = "@rtbackup/plugin-zfs";
    const module = await load(pkg);
    const options = { zfsBinaryPath: parameters.zfsBinaryPath };
    const parse = exported<(o: unknown) => { cloneDirectory: string }>(module, pkg, "parseZfsSnapshotOptions");
    cloneDirectory = parse(options).cloneDirectory;
    zfs = new (exported<PluginClass>(module, pkg, "ZfsSnapshotPlugin"))(options);
  }
  const agent = agentPaths(parameters, cloneDirectory);
  add(new BackupScopePlugin(agent));
  add(new PathFilterPlugin());
  add(new MonitoredMountRootsPlugin(agent));
  const openFiles = await load("@rtbackup/plugin-open-files");
  add((openFiles.createStabilityPlugin as (p: Parameters) => BackupPlugin)(parameters));
  if (zfs) add(zfs);
  if (mode === "daemon" && parameters.enableFileAccessNotify) {
    const options: Record<string, unknown> = { ignorePaths: agent };
    if (parameters.backupRoots.length) options.mountPoints = fanotifyMountPoints(parameters, await MountTable.read(), agent);
    add(new (await pluginClass("@rtbackup/plugin-fanotify", "FanotifySourcePlugin"))(options));
  }
  return plugins;
}
