import type { Engine } from "./Engine.js";

/**
 * A plugin: an object whose `apply` taps the engine's hooks. `apply` does no I/O (open resources in the
 * `initialize` hook); options are validated in the constructor and a bad one throws a `ConfigError`.
 */
export interface BackupPlugin {
  /** The plugin's name, also used as the tap name (by convention the class name). */
  readonly name: string;
  apply(engine: Engine): void;
}
