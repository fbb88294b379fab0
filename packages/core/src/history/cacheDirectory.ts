import { homedir } from "node:os";
import { join } from "node:path";
import type { Parameters } from "../config/Parameters.js";

/** The default cache directory: `$XDG_CACHE_HOME/rtb`, else `~/.cache/rtb` (a directory per repository under it). */
export function defaultCacheDirectory(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env["XDG_CACHE_HOME"];
  return join(xdg && xdg.startsWith("/") ? xdg : join(env["HOME"] || homedir(), ".cache"), "rtb");
}

/** Where the history cache and prune's scratch store go: `IndexCachePath`, else {@link defaultCacheDirectory}. */
export function cacheDirectoryOf(parameters: Pick<Parameters, "indexCachePath">): string {
  return parameters.indexCachePath || defaultCacheDirectory();
}
