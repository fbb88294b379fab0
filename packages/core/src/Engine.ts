import { systemClock } from "./clock.js";
import { observe } from "./hooks.js";
import { MUST_BE_SET, defaultParameters, secretParameters, type Parameters } from "./config/Parameters.js";
import { agentOwnPaths, tapAgentOwnPaths, tapCoreDefaults } from "./defaults/coreDefaults.js";
import { createEngineHooks, type EngineHooks } from "./EngineHooks.js";
import { BackupError } from "./errors.js";
import { createLogRoot, type Logger, type LogRootOptions } from "./logger.js";
import { Resources } from "./Resources.js";
import { WorkTracker } from "./pipeline/WorkTracker.js";
import { Runtime, type RuntimeContext, type RuntimeOptions, type ScanResult } from "./Runtime.js";
import { processSecrets } from "./secrets/SecretRegistry.js";
import { SourceHealthBoard } from "./SourceHealth.js";
import { acquireLock } from "./state/lock.js";
import type { StorageBackend } from "./storage/StorageBackend.js";
import type { ChangeEvent } from "./types.js";
import { mkdir } from "node:fs/promises";

/**
 * A plugin: an object whose `apply` taps the engine's hooks. `apply` does no I/O (open resources in the
 * `initialize` hook); options are validated in the constructor and a bad one throws a `ConfigError`.
 */
export interface BackupPlugin {
  /** The plugin's name, also used as the tap name (by convention the class name). */
  readonly name: string;
  apply(engine: Engine): void;
}

const EARLY_EVENT_LIMIT = 100_000;

/** Options of {@link Engine}. */
export interface EngineOptions {
  /** Typed parameters (from the XML or JS config). Missing fields take their defaults. */
  parameters?: Partial<Parameters>;
  /** Logging: verbosity, sink, error log. */
  log?: LogRootOptions;
  /** Plugins applied in order by the constructor. */
  plugins?: readonly BackupPlugin[];
  /**
   * What the engine is for, so plugins can decide what to do in `initialize`: `daemon` (monitoring), `backup` (a
   * bounded backup run), `restore` (reading only: list, restore, cat — no snapshots, no uploads). Default `backup`.
   */
  mode?: EngineMode;
  /**
   * False: core's own default taps (local storage, mount-table filesystems, live snapshots, the own-paths rule) are
   * not applied, so a plugin's unit test can ask a hook what that plugin alone answers. Default true.
   */
  coreDefaults?: boolean;
}

/** See {@link EngineOptions.mode}. */
export type EngineMode = "daemon" | "backup" | "restore";

/**
 * The core of realtime-backup. It owns the hooks (the extension points, declared once here in pipeline order);
 * plugins tap them, and only the engine and its pipeline call them.
 */
export class Engine {
  /** Extension points in pipeline order (declared in EngineHooks.ts). Plugins tap; only the engine and its stages call. */
  readonly hooks: EngineHooks = createEngineHooks();

  /** The effective parameters (defaults filled in). */
  readonly parameters: Parameters;
  /** What the engine runs for (see {@link EngineOptions.mode}). */
  readonly mode: EngineMode;
  readonly #loggerFor: (name: string) => Logger;
  readonly #plugins: BackupPlugin[] = [];

  constructor(options: EngineOptions = {}) {
    this.parameters = { ...defaultParameters(), ...options.parameters };
    this.mode = options.mode ?? "backup";
    // Configured credentials are known before anything can log or fail, so no message can carry them out.
    for (const name of secretParameters) {
      if (this.parameters[name] !== MUST_BE_SET) processSecrets.add(this.parameters[name]);
    }
    this.#loggerFor = createLogRoot({
      verbosity: this.parameters.verbosity,
      ...options.log,
    });
    // Core's own answers (local storage, mount-table filesystems, live snapshots, the own-paths rule): taps like a
    // plugin's, asked last (or, for the own-paths rule, first), so any plugin can answer instead.
    if (options.coreDefaults !== false) {
      tapCoreDefaults(this.hooks, systemClock);
      tapAgentOwnPaths(this.hooks, agentOwnPaths(this.parameters));
    }
    for (const plugin of options.plugins ?? []) this.use(plugin);
  }

  #runtime: Runtime | undefined;

  /** The running pipeline (after `start()`). */
  get runtime(): Runtime {
    if (!this.#runtime) throw new BackupError("ENGINE_NOT_STARTED", "the engine is not started");
    return this.#runtime;
  }

  /**
   * Starts: calls `initialize`, opens storage and the repository (creating it when absent), syncs the state cache
   * with the remote index, and builds the pipeline. Nothing is half-started on failure: whatever was opened is closed
   * again and the error is rethrown.
   */
  async start(options: RuntimeOptions = {}): Promise<Runtime> {
    if (this.#runtime) return this.#runtime;
    // The instance lock comes first, so a second agent on the same state never touches the first one's resources
    // (sockets, marks, snapshots) from its plugins' initialize taps.
    await mkdir(this.parameters.remoteFileStateCachePath, { recursive: true });
    const lock = await acquireLock(this.parameters.remoteFileStateCachePath);
    try {
      await this.hooks.initialize.promise();
    } catch (err) {
      await lock.release();
      throw err;
    }
    try {
      const resources = await Resources.open(this.parameters, () => this.resolveStorage(), lock, this.getLogger("state"));
      this.#runtime = await Runtime.open(this.#runtimeContext(options), resources, options);
    } catch (err) {
      await this.hooks.shutdown.promise().catch(() => undefined);
      throw err;
    }
    this.#handOverEarlyEvents((event) => this.#runtime!.pipeline.submit(event));
    return this.#runtime;
  }

  #runtimeContext(options: RuntimeOptions): RuntimeContext {
    return {
      hooks: this.hooks,
      parameters: this.parameters,
      clock: options.clock ?? systemClock,
      work: new WorkTracker(),
      logger: (name) => this.getLogger(name),
      sourceHealth: this.sourceHealth,
      submit: (event) => this.submit(event),
    };
  }

  /** Walks the roots and backs up everything new or changed, then waits until it is all committed. */
  async initialBackup(): Promise<ScanResult> {
    const runtime = this.runtime;
    const result = await runtime.scan("initial");
    await runtime.drain();
    return result;
  }

  /**
   * Opens the store for reading only (restore, list, cat, check): calls `initialize` and asks the storage hook for
   * the backend. No lock, no state cache, no pipeline, nothing created. `stop()` calls `shutdown` afterwards; on a
   * failure here it has been called already.
   */
  async openStore(): Promise<StorageBackend> {
    if (this.#runtime) return this.#runtime.storage;
    if (!this.#storeOpen) {
      await this.hooks.initialize.promise();
      this.#storeOpen = true;
    }
    try {
      return this.resolveStorage();
    } catch (err) {
      await this.stop().catch(() => undefined);
      throw err;
    }
  }

  #storeOpen = false;

  /**
   * Drains in-flight work (unless `drain: false`), commits, closes everything and calls `shutdown`. After
   * {@link openStore}, only calls `shutdown`.
   */
  async stop(options: { drain?: boolean } = {}): Promise<void> {
    if (!this.#runtime) {
      if (!this.#storeOpen) return;
      this.#storeOpen = false;
      return this.hooks.shutdown.promise();
    }
    const runtime = this.#runtime;
    this.#runtime = undefined;
    this.#early = [];
    try {
      await runtime.close(options);
    } finally {
      await this.hooks.shutdown.promise();
    }
  }

  /** Health of the change sources (fanotify, ...): they report to it; stats and the status line read it. */
  readonly sourceHealth = new SourceHealthBoard();

  /** Applies a plugin (it taps hooks synchronously). */
  use(plugin: BackupPlugin): this {
    plugin.apply(this);
    this.#plugins.push(plugin);
    return this;
  }

  /** The plugins applied, in order. */
  get plugins(): readonly BackupPlugin[] {
    return this.#plugins;
  }

  /** A named logger sharing the engine's verbosity and sinks. */
  getLogger(name: string): Logger {
    return this.#loggerFor(name);
  }

  /**
   * Sources call this with every change they see: the `event` observers, then the pipeline's intake. Events
   * submitted before the pipeline runs (sources start in `initialize`) are held and handed over when it starts.
   */
  submit(event: ChangeEvent): void {
    observe(this.hooks.event, event, this.#observerLog);
    if (this.#receiver) return this.#receiver(event);
    if (this.#runtime) return this.#runtime.pipeline.submit(event);
    // Sources start in `initialize`, before the pipeline exists: hold their first events until it does. Past the
    // limit, one rescan of everything replaces what was dropped.
    if (this.#early.length < EARLY_EVENT_LIMIT) this.#early.push(event);
    else this.#earlyOverflow = true;
  }

  /**
   * Sends submitted events to `receiver` instead of the pipeline (a source's tests and benchmarks record what it
   * submits without starting anything), and hands it the held ones; `undefined` goes back to the pipeline.
   */
  setSubmitHandler(receiver: ((event: ChangeEvent) => void) | undefined): void {
    this.#receiver = receiver;
    if (receiver) this.#handOverEarlyEvents(receiver);
  }

  #receiver: ((event: ChangeEvent) => void) | undefined;
  readonly #observerLog = { error: (message: string, err?: unknown) => this.getLogger("engine").error(message, err) };

  #handOverEarlyEvents(to: (event: ChangeEvent) => void): void {
    const early = this.#early;
    this.#early = [];
    for (const e of early) to(e);
    if (this.#earlyOverflow) {
      this.#earlyOverflow = false;
      for (const root of this.parameters.backupRoots) to({ type: "rescan", path: root, reason: "overflow" });
    }
  }

  #early: ChangeEvent[] = [];
  #earlyOverflow = false;

  /** Asks the storage hook for the backend, then lets wrappers wrap it. */
  resolveStorage(): StorageBackend {
    const backend = this.hooks.storage.call({ parameters: this.parameters });
    if (!backend) {
      throw new BackupError("PLUGIN_MISSING", `no plugin supplied storage "${this.parameters.storage}" (add its plugin, or set storage to local)`);
    }
    return this.hooks.wrapStorage.call(backend);
  }
}
