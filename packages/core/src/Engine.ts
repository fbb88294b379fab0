import { AsyncSeriesBailHook, AsyncSeriesHook, AsyncSeriesWaterfallHook, SyncBailHook, SyncHook, SyncWaterfallHook } from "tapable";
import { BackupError } from "./errors.js";
import { wrapTapErrors } from "./hooks.js";
import { createLogRoot, type Logger, type LogRootOptions } from "./logger.js";
import type { BackupPlugin } from "./Plugin.js";
import { MUST_BE_SET, defaultParameters, secretParameters, type Parameters } from "./config/Parameters.js";
import { processSecrets } from "./secrets/SecretRegistry.js";
import type { StorageBackend } from "./storage/StorageBackend.js";
import { LocalDirectoryStorage } from "./storage/LocalDirectoryStorage.js";
import { Runtime, type RuntimeOptions, type ScanResult } from "./pipeline/Runtime.js";
import { acquireLock } from "./state/lock.js";
import { SourceHealthBoard } from "./SourceHealth.js";
import { mkdir } from "node:fs/promises";
import type {
  BackupAction,
  ChangeEvent,
  CommitInfo,
  FailureInfo,
  IntakeRequest,
  IntakeVerdict,
  ScanInfo,
  Snapshot,
  SnapshotRequest,
  StabilityRequest,
  StorageRequest,
  UploadInfo,
  WriterSet,
} from "./types.js";

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
}

/** See {@link EngineOptions.mode}. */
export type EngineMode = "daemon" | "backup" | "restore";

/**
 * The core of realtime-backup. It owns the hooks (the extension points, declared once here in pipeline order);
 * plugins tap them, and only the engine and its pipeline call them.
 */
export class Engine {
  /** Extension points in pipeline order. Plugins tap; only the engine calls. */
  readonly hooks = Object.freeze({
    /** Start-up, called once by `start()` in tap order. Plugins open resources here; sources start watching. */
    initialize: new AsyncSeriesHook<[]>([], "initialize"),
    /**
     * Supplies the storage backend. Called once by `start()`; the first tap to return a backend wins. Core taps
     * it last (stage 100) with the local-directory store when `parameters.storage` is `local`.
     */
    storage: new SyncBailHook<[StorageRequest], StorageBackend | undefined>(["request"], "storage"),
    /** Wraps the chosen backend (mirror, encryption, fault injection): each tap returns the backend to use. */
    wrapStorage: new SyncWaterfallHook<[StorageBackend]>(["backend"], "wrapStorage"),
    /** The directories scans walk. Waterfall: each tap gets the list so far and returns the new list. */
    roots: new AsyncSeriesWaterfallHook<[string[]]>(["roots"], "roots"),
    /** Before each scan (initial backup, startup catch-up, periodic or requested rescan); e.g. dump a database. */
    beforeScan: new AsyncSeriesHook<[ScanInfo]>(["scan"], "beforeScan"),
    /** Stage 1 observer: every event a source submits, before intake. */
    event: new SyncHook<[ChangeEvent]>(["event"], "event"),
    /**
     * Stage 2, intake: asked once per path of an event. Bail: the first tap returning `"include"` or `"exclude"`
     * decides; `undefined` asks the next tap; if nobody decides the path is included. Core's path filters tap it.
     */
    intake: new AsyncSeriesBailHook<[IntakeRequest], IntakeVerdict | undefined>(["request"], "intake"),
    /**
     * Stage 3: names the filesystem (snapshot unit) a path lives on. Bail: first non-undefined answer wins; core
     * falls back to the deepest mount point from the mount table.
     */
    filesystem: new SyncBailHook<[string], string | undefined>(["path"], "filesystem"),
    /**
     * Stage 3, snapshot: one call per filesystem per batch. Bail: the first tap returning a {@link Snapshot} wins;
     * core falls back to the live (no snapshot) strategy. A tap that throws fails the batch, which is retried.
     */
    snapshot: new AsyncSeriesBailHook<[SnapshotRequest], Snapshot | undefined>(["request"], "snapshot"),
    /**
     * Stage 4, stability: which of these live paths does some process hold open for writing? Bail: the first tap
     * returning a set wins; if none does, no file is considered to have a writer.
     */
    stability: new AsyncSeriesBailHook<[StabilityRequest], WriterSet | undefined>(["request"], "stability"),
    /** Stage 5 observer: an action entered the action queue. */
    action: new SyncHook<[BackupAction]>(["action"], "action"),
    /** Stage 6 observer: an upload is starting. */
    uploadStarted: new SyncHook<[UploadInfo]>(["upload"], "uploadStarted"),
    /** Stage 6 observer: a file's content is stored (not yet committed). */
    uploaded: new SyncHook<[UploadInfo]>(["upload"], "uploaded"),
    /** Stage 7: an index batch is durably stored and the state cache updated. Awaited in tap order. */
    commit: new AsyncSeriesHook<[CommitInfo]>(["commit"], "commit"),
    /** Observer: a path failed at some stage (it will be retried unless stated otherwise). */
    failure: new SyncHook<[FailureInfo]>(["failure"], "failure"),
    /** Observer: a scan started (`done` false) or finished (`done` true). */
    scan: new SyncHook<[ScanInfo & { readonly done: boolean; readonly changed?: number }]>(["scan"], "scan"),
    /** Shut-down, called once by `stop()` after the pipeline drained. Plugins close what they opened. */
    shutdown: new AsyncSeriesHook<[]>([], "shutdown"),
  });

  /** The effective parameters (defaults filled in). */
  readonly parameters: Parameters;
  /** What the engine runs for (see {@link EngineOptions.mode}). */
  readonly mode: EngineMode;
  readonly #loggerFor: (name: string) => Logger;
  readonly #plugins: BackupPlugin[] = [];
  #submitHandler: ((event: ChangeEvent) => void) | undefined;

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
    for (const [name, hook] of Object.entries(this.hooks)) wrapTapErrors(hook, name);
    // The embedded default storage, asked last so any plugin can supply another.
    this.hooks.storage.tap({ name: "LocalDirectoryStorage", stage: 100 }, ({ parameters }) =>
      parameters.storage === "local" ? new LocalDirectoryStorage({ path: parameters.localStoragePath }) : undefined,
    );
    for (const plugin of options.plugins ?? []) this.use(plugin);
  }

  #runtime: Runtime | undefined;

  /** The running pipeline (after `start()`). */
  get runtime(): Runtime {
    if (!this.#runtime) throw new BackupError("ABORTED", "the engine is not started");
    return this.#runtime;
  }

  /**
   * Starts: calls `initialize`, opens storage and the repository (creating it when absent), syncs the state cache
   * with the remote index, and readies the action queue, workers and committer. Nothing is half-started on failure:
   * whatever was opened is closed again and the error is rethrown.
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
      this.#runtime = await Runtime.open(this, options, lock);
    } catch (err) {
      await this.hooks.shutdown.promise().catch(() => undefined);
      throw err;
    }
    return this.#runtime;
  }

  /** Walks the roots and backs up everything new or changed, then waits until it is all committed. */
  async initialBackup(): Promise<ScanResult> {
    const runtime = this.runtime;
    const result = await runtime.scan("initial");
    await runtime.drain();
    return result;
  }

  /** Drains in-flight work (unless `drain: false`), commits, closes everything and calls `shutdown`. */
  async stop(options: { drain?: boolean } = {}): Promise<void> {
    if (!this.#runtime) return;
    const runtime = this.#runtime;
    this.#runtime = undefined;
    this.#submitHandler = undefined;
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
   * Sources call this with every change they see. Events submitted before the pipeline runs (sources start in
   * `initialize`) are held and handed over when it starts.
   */
  submit(event: ChangeEvent): void {
    this.hooks.event.call(event);
    if (this.#submitHandler) return this.#submitHandler(event);
    // Sources start in `initialize`, before the pipeline exists: hold their first events until it does. Past the
    // limit, one rescan of everything replaces what was dropped.
    if (this.#early.length < EARLY_EVENT_LIMIT) this.#early.push(event);
    else this.#earlyOverflow = true;
  }

  /** Installs the function that receives submitted events (the pipeline does, when it starts) and hands it the held ones. */
  setSubmitHandler(handler: ((event: ChangeEvent) => void) | undefined): void {
    this.#submitHandler = handler;
    if (!handler) return;
    const early = this.#early;
    this.#early = [];
    for (const e of early) handler(e);
    if (this.#earlyOverflow) {
      this.#earlyOverflow = false;
      for (const root of this.parameters.backupRoots) handler({ type: "rescan", path: root, reason: "overflow" });
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
