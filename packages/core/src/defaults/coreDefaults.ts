import type { EngineHooks } from "../EngineHooks.js";
import { MountTable } from "../mounts/MountTable.js";
import { liveSnapshot } from "../pipeline/SharedSnapshot.js";
import { LocalDirectoryStorage } from "../storage/LocalDirectoryStorage.js";
import { agentOwnPaths, isAgentOwnPath } from "./ownPaths.js";

/**
 * Core's own answers to its hooks, tapped like any plugin's but last (stage 100) or first (stage -100), so a plugin
 * can always answer instead. Applied by the engine's constructor; they are not in `engine.plugins`.
 *
 * | tap | hook | answer |
 * | --- | --- | --- |
 * | `LocalDirectoryStorage` | `storage` (stage 100) | the local-directory store, when `parameters.storage` is `local` |
 * | `MountTableFilesystem` | `filesystem` (stage 100) | the deepest mount point holding the path (`/` without /proc) |
 * | `LiveSnapshot` | `snapshot` (stage 100) | no snapshot: files are read where they are |
 * | `AgentOwnPaths` | `intake` (stage -100) | `exclude` for the agent's own directories and `.zfs/snapshot` views |
 */
export function tapCoreDefaults(hooks: EngineHooks, clock: { now(): number }): void {
  hooks.storage.tap({ name: "LocalDirectoryStorage", stage: 100 }, ({ parameters }) =>
    parameters.storage === "local" ? new LocalDirectoryStorage({ path: parameters.localStoragePath }) : undefined,
  );
  let mounts: MountTable | null | undefined;
  hooks.filesystem.tap({ name: "MountTableFilesystem", stage: 100 }, (path) => {
    if (mounts === undefined) {
      try {
        mounts = MountTable.readSync();
      } catch {
        mounts = null; // no /proc: everything is one filesystem
      }
    }
    return mounts?.mountOf(path)?.mountPoint ?? "/";
  });
  hooks.snapshot.tapPromise({ name: "LiveSnapshot", stage: 100 }, async ({ filesystem }) => liveSnapshot(filesystem, clock.now()));
}

/** The own-paths rule as an intake tap (see {@link isAgentOwnPath}); `own` from {@link agentOwnPaths}. */
export function tapAgentOwnPaths(hooks: EngineHooks, own: readonly string[]): void {
  hooks.intake.tap({ name: "AgentOwnPaths", stage: -100 }, ({ path }) => (isAgentOwnPath(path, own) ? "exclude" : undefined));
}

export { agentOwnPaths };
