import type { Parameters } from "../config/Parameters.js";
import { cacheDirectoryOf } from "../history/cacheDirectory.js";
import { isUnder } from "../mounts/mountPaths.js";

const SNAPSHOT_VIEW = /\/\.zfs\/snapshot(\/|$)/;

/**
 * The agent's own working directories: the staging directory, the state cache, the history cache (`rtb versions`
 * of this user, which would otherwise be uploaded each time it is used), the local store when storage is local, and
 * any `extra` (a snapshot plugin's clone directory). Never backed up, and never watched.
 */
export function agentOwnPaths(parameters: Parameters, extra: readonly string[] = []): string[] {
  const paths = [parameters.stagingDirectory, parameters.remoteFileStateCachePath, cacheDirectoryOf(parameters)];
  if (parameters.storage === "local") paths.push(parameters.localStoragePath);
  return [...paths, ...extra];
}

/**
 * The one rule for what is never backed up: a path under one of the agent's own directories
 * ({@link agentOwnPaths}), or inside a ZFS snapshot view (`.zfs/snapshot`), which is a copy of what is backed up.
 */
export function isAgentOwnPath(path: string, own: readonly string[]): boolean {
  return SNAPSHOT_VIEW.test(path) || own.some((dir) => isUnder(path, dir));
}
