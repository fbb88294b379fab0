import { access, constants } from "node:fs/promises";
import { BackupError, MountTable, PathFilterPlugin, fileSystemTypeMatches, type BackupPlugin, type Engine, type Parameters } from "@rtbackup/core";

type PluginClass = new (options?: unknown) => BackupPlugin;

/** Imports a plugin package, with an error that says what is missing. */
async function load(pkg: string): Promise<Record<string, unknown>> {
  try {
    return (await import(pkg)) as Record<string, unknown>;
  } catch (err) {
    throw new BackupError("PLUGIN_MISSING", `the default preset needs ${pkg} (${(err as Error).message})`, { cause: err });
  }
}

async function pluginClass(pkg: string, exportName: string): Promise<PluginClass> {
  const cls = (await load(pkg))[exportName];
  if (typeof cls !== "function") throw new BackupError("PLUGIN_MISSING", `${pkg} does not export ${exportName}`);
  return cls as PluginClass;
}

/** What the preset is assembled for. */
export type PresetMode = "daemon" | "backup" | "restore";

const ROOTS_PLUGIN = "MonitoredMountRootsPlugin";

/**
 * When no BackupRoots are configured, scans walk the monitored mounts (MonitorFileSystemTypes, PreferredMountPoints),
 * as DQD's surface area does.
 */
class MonitoredMountRootsPlugin implements BackupPlugin {
  readonly name = ROOTS_PLUGIN;
  apply(engine: Engine): void {
    engine.hooks.roots.tapPromise(ROOTS_PLUGIN, async (roots) => {
      if (roots.length) return roots;
      const p = engine.parameters;
      const table = await MountTable.read();
      return table.select({ fileSystemTypes: p.monitorFileSystemTypes, preferredMountPoints: p.preferredMountPoints }).map((m) => m.mountPoint);
    });
  }
}

async function executable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/** Whether ZFS snapshots can be used: ZFS is monitored, the zfs command exists and a ZFS filesystem is mounted. */
async function zfsAvailable(parameters: Parameters): Promise<boolean> {
  if (!fileSystemTypeMatches("zfs", parameters.monitorFileSystemTypes)) return false;
  if (!(await executable(parameters.zfsBinaryPath))) return false;
  const table = await MountTable.read().catch(() => undefined);
  return Boolean(table?.visible.some((m) => m.fsType === "zfs" || m.fsType === "fuse.zfs"));
}

/**
 * The default preset: which plugins the parameters turn into. It lives in the CLI so core never imports a plugin;
 * plugin packages are imported only when a setting asks for them.
 * - every mode: the storage backend (`Storage`: local is built into core, `b2`, `s3`);
 * - backup and daemon: path filters, the open-files check (procfs, or lsof when asked), ZFS snapshots when ZFS is
 *   monitored and present, roots from the monitored mounts when BackupRoots is empty;
 * - daemon: the fanotify source when EnableFileAccessNotify is true.
 */
export async function presetPlugins(parameters: Parameters, mode: PresetMode = "backup"): Promise<BackupPlugin[]> {
  const plugins: BackupPlugin[] = [];
  if (parameters.storage === "b2") plugins.push(new (await pluginClass("@rtbackup/plugin-b2", "B2StoragePlugin"))());
  else if (parameters.storage === "s3") plugins.push(new (await pluginClass("@rtbackup/plugin-s3", "S3StoragePlugin"))());
  if (mode === "restore") return plugins;
  plugins.push(new PathFilterPlugin(), new MonitoredMountRootsPlugin());
  const openFiles = await load("@rtbackup/plugin-open-files");
  plugins.push((openFiles.createStabilityPlugin as (p: Parameters) => BackupPlugin)(parameters));
  if (await zfsAvailable(parameters)) {
    plugins.push(new (await pluginClass("@rtbackup/plugin-zfs", "ZfsSnapshotPlugin"))({ zfsBinaryPath: parameters.zfsBinaryPath }));
  }
  if (mode === "daemon" && parameters.enableFileAccessNotify) {
    plugins.push(new (await pluginClass("@rtbackup/plugin-fanotify", "FanotifySourcePlugin"))());
  }
  return plugins;
}
