import { LocalDirectoryStorage, PluginOptions, booleanKind, pathKind, type BackupPlugin, type Engine, type StorageBackend } from "@rtbackup/core";
import { MirrorStorage } from "./MirrorStorage.js";

const PLUGIN_NAME = "MirrorStoragePlugin";

/** Options of {@link MirrorStoragePlugin}. */
export interface MirrorStorageOptions {
  /** Absolute path of the local directory that receives a copy of every object (created when absent). */
  readonly path: string;
  /** Read from the mirror before the chosen backend (for a slow or metered off-site store). Default false. */
  readonly preferMirror: boolean;
}

const KNOWN = ["path", "preferMirror"];

/** Checks raw options with core's {@link PluginOptions}; a bad value throws a ConfigError naming the option. */
export function parseMirrorStorageOptions(raw: unknown): MirrorStorageOptions {
  const o = PluginOptions.read(PLUGIN_NAME, raw, KNOWN);
  return {
    path: o.required("path", pathKind(), "an absolute directory path"),
    preferMirror: o.get("preferMirror", booleanKind, false),
  };
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
