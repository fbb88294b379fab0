import { ConfigError, MUST_BE_SET, PluginOptions, type BackupPlugin, type Engine, type Parameters, type StorageBackend } from "@rtbackup/core";
import { B2Storage } from "./B2Storage.js";
import { B2_STORAGE_OPTIONS, parseB2StorageOptions, type B2StorageOptions } from "./B2StorageOptions.js";

const PLUGIN_NAME = "B2StoragePlugin";

/**
 * Options of {@link B2StoragePlugin}. Credentials and sizes normally come from the parameters (RemoteStorageKeyID,
 * RemoteStorageApplicationKey, RemoteStorageBucketID, B2LargeFileThreshold, B2LargeFileChunkSize); a JS config may
 * set them here instead, and then these win.
 */
export type B2StoragePluginOptions = Partial<Omit<B2StorageOptions, "logger">>;

/** The parameter (XML element) each option comes from. */
const PARAMETER_OF = {
  keyId: ["remoteStorageKeyID", "RemoteStorageKeyID"],
  applicationKey: ["remoteStorageApplicationKey", "RemoteStorageApplicationKey"],
  bucketId: ["remoteStorageBucketID", "RemoteStorageBucketID"],
  largeFileThreshold: ["b2LargeFileThreshold", "B2LargeFileThreshold"],
  largeFileChunkSize: ["b2LargeFileChunkSize", "B2LargeFileChunkSize"],
} as const satisfies Partial<Record<keyof B2StorageOptions, readonly [keyof Parameters, string]>>;

/** The plugin takes every option of B2Storage but the logger (it passes its own). */
const KNOWN_OPTIONS = B2_STORAGE_OPTIONS.filter((o) => o !== "logger");

/**
 * Supplies the Backblaze B2 backend ({@link B2Storage}) when the parameters say `storage` is `b2`. It taps only the
 * `storage` hook; the backend does no I/O until its first operation.
 */
export class B2StoragePlugin implements BackupPlugin {
  readonly name = PLUGIN_NAME;
  readonly #options: B2StoragePluginOptions;

  /** Validates options; a bad one throws a ConfigError naming `B2StoragePlugin.options.<name>`. */
  constructor(options: unknown = {}) {
    const where = (option: string) => `${PLUGIN_NAME}.options.${option}`;
    PluginOptions.read(PLUGIN_NAME, options, KNOWN_OPTIONS);
    // Stand-ins for credentials that will come from the parameters, so everything given here is checked now.
    parseB2StorageOptions({ keyId: "pending", applicationKey: "pending", bucketId: "pending", ...(options as object) }, where);
    this.#options = { ...(options as B2StoragePluginOptions) };
  }

  apply(engine: Engine): void {
    engine.hooks.storage.tap(PLUGIN_NAME, (request) => {
      if (request.parameters.storage !== "b2") return undefined;
      return this.#create(request.parameters, engine);
    });
  }

  #create(parameters: Parameters, engine: Engine): StorageBackend {
    const merged: Record<string, unknown> = {};
    for (const [option, [field, element]] of Object.entries(PARAMETER_OF)) {
      if (option in this.#options) continue;
      const value = parameters[field];
      if (value === MUST_BE_SET || value === "") throw new ConfigError(element, "must be set for B2 storage");
      merged[option] = value;
    }
    const where = (option: keyof B2StorageOptions): string => {
      const fromParameters = !(option in this.#options) && option in PARAMETER_OF;
      return fromParameters ? PARAMETER_OF[option as keyof typeof PARAMETER_OF][1] : `${PLUGIN_NAME}.options.${option}`;
    };
    return new B2Storage(
      { ...(merged as Pick<B2StorageOptions, "keyId" | "applicationKey" | "bucketId">), ...this.#options, logger: engine.getLogger(PLUGIN_NAME) },
      where,
    );
  }
}
