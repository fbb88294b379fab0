import { isAbsolute } from "node:path";
import { ConfigError, LocalDirectoryStorage, type BackupPlugin, type Engine, type StorageBackend } from "@rtbackup/core";
import { MirrorStorage } from "./MirrorStorage.js";

const PLUGIN_NAME = "MirrorStoragePlugin";

/** Options of {@link MirrorStoragePlugin}. */
export interface MirrorStorageOptions {
  /** Absolute path of the local directory that receives a copy of every object (created when absent). */
  readonly path: string;
  /** Read from the mirror before the chosen backend (for a slow or metered off-site store). Default false. */
  readonly preferMirror: boolean;
}

/** Checks raw options; a bad value throws a ConfigError naming the option. */
export function parseMirrorStorageOptions(raw: unknown, where = "options"): MirrorStorageOptions {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ConfigError(where, "expected an object with path");
  const o = raw as Record<string, unknown>;
  for (const key of Object.keys(o)) if (key !== "path" && key !== "preferMirror") throw new ConfigError(`${where}.${key}`, "unknown option");
  if (typeof o.path !== "string" || !isAbsolute(o.path))
    throw new ConfigError(`${where}.path`, `expected an absolute directory path, got ${JSON.stringify(o.path)}`);
  const preferMirror = o.preferMirror ?? false;
  if (typeof preferMirror !== "boolean") throw new ConfigError(`${where}.preferMirror`, "expected true or false");
  return { path: o.path, preferMirror };
}

/**
 * Keeps a second copy of the repository in a local directory: taps `wrapStorage` and wraps whatever backend was
 * chosen (B2, S3, local) in a {@link MirrorStorage} with a {@link LocalDirectoryStorage} on `path`. The mirror is a
 * complete repository of its own: `rtb restore --store <path>` restores from it alone.
 */
export class MirrorStoragePlugin implements BackupPlugin {
  readonly name = PLUGIN_NAME;
  readonly options: MirrorStorageOptions;

  constructor(options: unknown) {
    this.options = parseMirrorStorageOptions(options);
  }

  apply(engine: Engine): void {
    engine.hooks.wrapStorage.tap(PLUGIN_NAME, (backend: StorageBackend) => {
      const mirror = new LocalDirectoryStorage({ path: this.options.path });
      return new MirrorStorage(this.options.preferMirror ? [mirror, backend] : [backend, mirror]);
    });
  }
}
