import { AsyncSeriesBailHook, AsyncSeriesHook, AsyncSeriesWaterfallHook, SyncBailHook, SyncHook, SyncWaterfallHook } from "tapable";
import { wrapTapErrors } from "./hooks.js";
import type { StorageBackend } from "./storage/StorageBackend.js";
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

/**
 * The engine's hook block: every extension point, once, in pipeline order. Plugins tap; only the engine and the
 * stages it builds call. Its own file so that the stages can name its type without importing the engine. Every tap's
 * errors are wrapped once, naming the tap and the hook.
 */
export function createEngineHooks() {
  const hooks = Object.freeze({
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
     * Asked by a scan for each directory intake excluded. Bail: `true` (nothing under it is backed up either) and the
     * scan does not walk into it. The path filters answer; an intake tap that includes what they exclude answers false.
     */
    excludesSubtree: new SyncBailHook<[string], boolean | undefined>(["path"], "excludesSubtree"),
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
  for (const [name, hook] of Object.entries(hooks)) wrapTapErrors(hook, name);
  return hooks;
}

/** The engine's hooks (see {@link createEngineHooks}). */
export type EngineHooks = ReturnType<typeof createEngineHooks>;
