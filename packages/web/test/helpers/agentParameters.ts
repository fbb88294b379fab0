// The parameters of an engine under test: a local store and its state in `dir`, one backup root `src`, short windows.
import { join } from "node:path";
import type { Parameters } from "@rtbackup/core";

export function agentParameters(dir: string, src: string): Partial<Parameters> {
  return {
    storage: "local",
    localStoragePath: join(dir, "store"),
    remoteFileStateCachePath: join(dir, "state"),
    stagingDirectory: join(dir, "staging"),
    backupRoots: [src],
    pathFilters: [],
    batchUploadConsolidationDelay: 20,
    snapshotSharingWindow: 10,
  };
}
