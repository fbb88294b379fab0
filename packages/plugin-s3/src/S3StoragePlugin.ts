import { StorageError, type BackupPlugin, type Engine, type Logger, type Parameters } from "@rtbackup/core";
import { S3Storage } from "./S3Storage.js";
import { parseS3StorageOptions, s3OptionsFromParameters, type ResolvedS3StorageOptions, type S3StorageOptions } from "./S3StorageOptions.js";

const PLUGIN_NAME = "S3StoragePlugin";

/** Options of {@link S3StoragePlugin}: the same as {@link S3Storage}'s. */
export type S3StoragePluginOptions = S3StorageOptions;

/**
 * Supplies an {@link S3Storage} through the engine's `storage` hook.
 *
 * - Without options (the preset's way, from the XML or a JSON/YAML config) it answers when
 *   `parameters.storage` is `"s3"`, building the store from the `s3*` parameters (`<S3Endpoint>`, `<S3Bucket>`, ...).
 * - With options (a JS config: `new S3StoragePlugin({ bucket, endpoint, ... })`) it answers when
 *   `parameters.storage` is `"s3"` or left at `"local"`; choosing `"b2"` keeps it out.
 *
 * Taps `storage` (supply the backend), `initialize` (check the bucket: a wrong bucket, region or key stops the
 * start with a message saying what to fix; a network failure is only logged) and `shutdown` (close connections).
 */
export class S3StoragePlugin implements BackupPlugin {
  readonly name = PLUGIN_NAME;
  readonly #explicit: ResolvedS3StorageOptions | undefined;
  #storage: S3Storage | undefined;

  constructor(options?: unknown) {
    this.#explicit = options === undefined ? undefined : parseS3StorageOptions(options, PLUGIN_NAME);
  }

  apply(engine: Engine): void {
    engine.hooks.storage.tap(PLUGIN_NAME, (request) => this.#storageFor(request.parameters, engine));
    engine.hooks.initialize.tapPromise(PLUGIN_NAME, async () => {
      const storage = this.#storageFor(engine.parameters, engine);
      if (!storage) return;
      try {
        await storage.init();
      } catch (err) {
        if (!(err instanceof StorageError) || !err.transient) throw err;
        engine.getLogger(PLUGIN_NAME).warn(`${err.message}; continuing, uploads will retry`);
      }
    });
    engine.hooks.shutdown.tapPromise(PLUGIN_NAME, async () => {
      const storage = this.#storage;
      this.#storage = undefined;
      await storage?.close();
    });
  }

  #storageFor(parameters: Parameters, engine: Engine): S3Storage | undefined {
    const wanted = parameters.storage === "s3" || (this.#explicit !== undefined && parameters.storage === "local");
    if (!wanted) return undefined;
    if (!this.#storage) {
      const logger: Logger = engine.getLogger(PLUGIN_NAME);
      const options = this.#explicit ? { ...this.#explicit, logger: this.#explicit.logger ?? logger } : s3OptionsFromParameters(parameters, logger);
      this.#storage = new S3Storage(options);
    }
    return this.#storage;
  }
}
