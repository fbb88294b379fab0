import type { Engine } from "../Engine.js";
import type { Logger } from "../logger.js";
import { Repository } from "../repository/Repository.js";
import { syncStateCache, type SyncResult } from "../repository/syncState.js";
import type { Lock } from "../state/lock.js";
import { StateCache } from "../state/StateCache.js";
import type { StorageBackend } from "../storage/StorageBackend.js";
import type { BackupAction, ScanInfo } from "../types.js";
import { ActionQueue } from "./ActionQueue.js";
import { Committer } from "./Committer.js";
import { Uploader, unchangedOnDisk } from "./Uploader.js";
import { walk } from "../scan/walk.js";
import { checkRootMounts } from "../scan/rootMounts.js";
import { goneSince } from "../scan/goneSince.js";
import type { ScanResult } from "../scan/ScanResult.js";
import { isPathUnder } from "../repository/format.js";
import { systemClock, type Clock } from "../clock.js";
import type { BackoffPolicy } from "./retry.js";
import { Pipeline } from "./Pipeline.js";
import { isErrno, messageOf } from "../errors.js";
import { rm } from "node:fs/promises";
import { agentStats, type AgentStats } from "./agentStats.js";
export type { AgentStats } from "./agentStats.js";

export type { ScanResult } from "../scan/ScanResult.js";

/** A file that kept failing in a bounded run (initial backup then exit). */
export interface GaveUp {
  path: string;
  error: string;
  attempts: number;
}

/** Options of {@link Runtime.open}. */
export interface RuntimeOptions {
  /** Give up on an action after this many attempts (for runs that must end). Default: never. */
  maxAttempts?: number;
  /** Checkpoint every N committed records. */
  checkpointEvery?: number;
  /** Time source (tests inject a manual clock). */
  clock?: Clock;
  /** Retry timing of failed snapshots, uploads and index writes (tests shorten it). */
  backoff?: BackoffPolicy;
}

/** A scan waiting to run. */
interface ScanRequest {
  reason: ScanInfo["reason"];
  roots: string[] | undefined;
}

/**
 * The running pipeline of one engine: storage, repository, state cache, action queue, upload workers and the
 * committer, plus scans. Created by `engine.start()`.
 */
export class Runtime {
  readonly engine: Engine;
  readonly storage: StorageBackend;
  readonly repository: Repository;
  readonly cache: StateCache;
  readonly committer: Committer;
  readonly uploader: Uploader;
  readonly queue: ActionQueue;
  readonly sync: SyncResult;
  readonly gaveUp: GaveUp[] = [];
  readonly pipeline: Pipeline;
  readonly clock: Clock;
  #scanQueue: ScanRequest[] = [];
  #scanning: Promise<void> | undefined;
  #scanAbort: AbortController | undefined;
  #periodicTimer: unknown;
  #closed = false;
  readonly #lock: Lock;
  readonly #log: Logger;
  #halt: (error: Error) => void = () => undefined;
  /**
   * Settles with the error that stopped committing (a damaged remote index, docs/format.md "A damaged index");
   * never settles otherwise. The daemon exits on it.
   */
  readonly halted: Promise<Error> = new Promise((resolve) => {
    this.#halt = resolve;
  });
  scanStatus: { running: boolean; reason?: ScanInfo["reason"]; walked: number; queued: number; startedAt?: number; last?: ScanResult } = {
    running: false,
    walked: 0,
    queued: 0,
  };

  private constructor(
    engine: Engine,
    storage: StorageBackend,
    repository: Repository,
    cache: StateCache,
    lock: Lock,
    sync: SyncResult,
    options: RuntimeOptions,
  ) {
    this.engine = engine;
    this.storage = storage;
    this.repository = repository;
    this.cache = cache;
    this.#lock = lock;
    this.sync = sync;
    this.#log = engine.getLogger("runtime");
    const p = engine.parameters;
    this.committer = new Committer({
      repository,
      cache,
      engine,
      delayMs: p.batchUploadConsolidationDelay,
      lastBatchTime: sync.lastBatchTime,
      onHalt: (error) => this.#halt(error),
      ...(options.backoff ? { backoff: options.backoff } : {}),
      ...(options.checkpointEvery ? { checkpointEvery: options.checkpointEvery } : {}),
    });
    this.uploader = new Uploader({ engine, repository, cache, committer: this.committer });
    engine.hooks.commit.tap({ name: "Runtime", stage: -100 }, () => this.uploader.forgetCommittedChunks());
    this.clock = options.clock ?? systemClock;
    this.pipeline = new Pipeline(this, {
      clock: this.clock,
      ...(options.backoff ? { backoff: options.backoff } : {}),
      ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
      onGiveUp: (path, error, attempts) => this.gaveUp.push({ path, error: messageOf(error), attempts }),
    });
    engine.setSubmitHandler((event) => this.pipeline.submit(event));
    this.queue = new ActionQueue({
      concurrency: p.uploadThreadCount,
      highWaterMark: Number.MAX_SAFE_INTEGER,
      lowWaterMark: Number.MAX_SAFE_INTEGER - 1,
      handler: this.pipeline.handle,
      onSettled: () => this.pipeline.notify(),
      onReplaced: (old) => {
        this.pipeline.holds.release(old).catch((err) => this.#log.warn(`releasing a replaced upload failed: ${String(err)}`));
      },
      onFailure: (action, error, attempts, retryAt) => {
        const path = action.type === "move" ? action.to : action.path;
        this.#log.error(`${action.type} ${path} failed (attempt ${attempts})${retryAt ? "; will retry" : ""}`, error);
        engine.hooks.failure.call({ path, stage: "upload", error, attempts, ...(retryAt ? { retryAt } : {}) });
        if (options.maxAttempts && attempts >= options.maxAttempts) {
          this.gaveUp.push({ path, error: error instanceof Error ? error.message : String(error), attempts });
          return false;
        }
        return true;
      },
    });
  }

  /** Opens storage, the repository (created if absent), the state cache (synced with the index) and the stages. */
  static async open(engine: Engine, options: RuntimeOptions, lock: Lock): Promise<Runtime> {
    const p = engine.parameters;
    let cache: StateCache | undefined;
    let storage: StorageBackend | undefined;
    try {
      storage = engine.resolveStorage();
      const repository = await Repository.open(storage, { prefix: p.repositoryPrefix, create: { chunkSize: p.chunkSize } });
      // Staging copies left by a crash are stale: their files go through the pipeline again.
      await rm(p.stagingDirectory, { recursive: true, force: true }).catch(() => undefined);
      cache = await StateCache.open(p.remoteFileStateCachePath);
      const sync = await syncStateCache(repository, cache, engine.getLogger("state"));
      const runtime = new Runtime(engine, storage, repository, cache, lock, sync, options);
      await runtime.committer.resume();
      return runtime;
    } catch (err) {
      await cache?.close();
      await storage?.close?.().catch(() => undefined);
      await lock.release();
      throw err;
    }
  }

  /**
   * One object with everything an operator wants to see: queue sizes per stage, uploads in progress (bytes done,
   * total, rate), totals, errors, rescan status. Read by the console and the bridge; contains no secrets.
   */
  stats(options: { includeUploads?: boolean } = {}): AgentStats {
    return agentStats(this, options);
  }

  /** The agent's own working directories and snapshot views, never backed up. */
  #ownPath(path: string): boolean {
    const p = this.engine.parameters;
    return (
      isPathUnder(path, p.stagingDirectory) ||
      isPathUnder(path, p.remoteFileStateCachePath) ||
      (p.storage === "local" && isPathUnder(path, p.localStoragePath)) ||
      path.includes("/.zfs/snapshot/")
    );
  }

  /** Applies the intake hook to one path: true when it is to be backed up. */
  async included(path: string, action: BackupAction["type"] = "upload"): Promise<boolean> {
    const hook = this.engine.hooks.intake;
    if (!hook.isUsed()) return true;
    const event = action === "delete" ? { type: "delete" as const, path } : { type: "update" as const, path };
    return (await hook.promise({ path, event })) !== "exclude";
  }

  /** The roots scans walk: `backupRoots` through the `roots` hook. */
  async roots(): Promise<string[]> {
    return this.engine.hooks.roots.promise([...this.engine.parameters.backupRoots]);
  }

  /**
   * Walks the roots, queues every new or changed path (size, mtime, ctime, inode against the state cache) and a
   * delete for every tracked path under the roots that is gone. Back-pressure from the queue slows the walk.
   */
  async scan(reason: ScanInfo["reason"], roots?: string[]): Promise<ScanResult> {
    const started = Date.now();
    const list = roots ?? (await this.roots());
    const info: ScanInfo = { reason, roots: list };
    await this.engine.hooks.beforeScan.promise(info);
    this.scanStatus = { running: true, reason, walked: 0, queued: 0, startedAt: started };
    this.engine.hooks.scan.call({ ...info, done: false });
    const seen = new Set<string>();
    // Filesystems mounted inside a root are not walked (their own roots cover them): never take their files for deleted.
    const otherFilesystems: string[] = [];
    // "Cannot read" is never "deleted": what lies under an unreadable path keeps its index entries.
    const unreadable: ScanResult["unreadable"] = [];
    const onUnreadable = (path: string, err: unknown) => {
      const error = isErrno(err, "ENOENT") ? "does not exist" : messageOf(err);
      unreadable.push({ path, error });
      this.#log.error(`cannot read ${path}: ${error}; nothing under it is taken for deleted`);
      this.engine.hooks.failure.call({ path, stage: "scan", error: err, attempts: 1 });
    };
    for (const { root, error } of await checkRootMounts(this.engine.parameters.remoteFileStateCachePath, list)) {
      onUnreadable(root, new Error(error));
    }
    const walkable = list.filter((root) => !unreadable.some((u) => u.path === root));
    const signal = this.#scanAbort?.signal;
    let changed = 0;
    for (const root of walkable) {
      for await (const { path, stats } of walk(root, {
        skip: (p) => this.#ownPath(p),
        onOtherFilesystem: (p) => otherFilesystems.push(p),
        ...(signal ? { signal } : {}),
        onUnreadable,
      })) {
        if (!(await this.included(path))) continue;
        seen.add(path);
        this.scanStatus.walked++;
        if (unchangedOnDisk(this.cache.get(path), stats)) continue;
        if (!stats.isFile() && !stats.isDirectory() && !stats.isSymbolicLink()) continue;
        changed++;
        this.scanStatus.queued++;
        if (stats.isFile()) this.pipeline.submit({ type: "update", path });
        else {
          // Directories and symlinks carry metadata only: no snapshot or stability check needed.
          const action: BackupAction = { type: "upload", path, source: path };
          this.engine.hooks.action.call(action);
          this.queue.enqueue(action);
        }
        await this.pipeline.waitForRoom();
        if (this.#scanAbort?.signal.aborted) break;
      }
    }
    let deleted = 0;
    const cancelled = signal?.aborted ?? false;
    // A filesystem mounted inside a root that is itself walked as a root was seen through that root.
    const unwalked = otherFilesystems.filter((m) => !list.includes(m));
    const unseen = [...unwalked, ...unreadable.map((u) => u.path)];
    // A cancelled scan saw only part of the tree: it deletes nothing.
    for (const root of cancelled ? [] : walkable) {
      for (const path of goneSince(this.cache, root, seen, unseen)) {
        deleted++;
        const action: BackupAction = { type: "delete", path };
        this.engine.hooks.action.call(action);
        this.queue.enqueue(action);
        await this.pipeline.waitForRoom();
      }
    }
    const result: ScanResult = { reason, roots: list, seen: seen.size, changed, deleted, unreadable, cancelled, durationMs: Date.now() - started };
    this.scanStatus = { running: false, walked: this.scanStatus.walked, queued: this.scanStatus.queued, last: result };
    this.engine.hooks.scan.call({ ...info, done: true, changed: changed + deleted });
    return result;
  }

  /** Waits until every queued action is done and every record committed. */
  async drain(): Promise<void> {
    for (;;) {
      await this.pipeline.flush();
      await this.pipeline.idle();
      await this.queue.idle();
      await this.committer.flush();
      if (this.pipeline.outstanding === 0 && this.committer.pendingCount === 0) return;
    }
  }

  /**
   * Queues a scan (`roots` undefined: all roots). Scans run one at a time; a full scan waiting already covers any
   * subtree request, so requests coalesce.
   */
  requestScan(reason: ScanInfo["reason"], roots?: string[]): void {
    if (this.#closed) return;
    const full = this.#scanQueue.find((r) => r.roots === undefined);
    if (full) return;
    if (roots === undefined) this.#scanQueue = [{ reason, roots: undefined }];
    else {
      const pending = this.#scanQueue.find((r) => r.roots);
      if (pending?.roots) {
        for (const root of roots) if (!pending.roots.some((r) => isPathUnder(root, r))) pending.roots.push(root);
      } else this.#scanQueue.push({ reason, roots: [...roots] });
    }
    if (!this.#scanning) this.#scanning = this.#runScans();
  }

  async #runScans(): Promise<void> {
    try {
      while (this.#scanQueue.length && !this.#closed) {
        const next = this.#scanQueue.shift()!;
        this.#scanAbort = new AbortController();
        try {
          const roots = next.roots ?? (await this.roots());
          const result = await this.scan(
            next.reason,
            roots.filter((r) => r.startsWith("/")),
          );
          const problems = result.unreadable.length ? `, ${result.unreadable.length} unreadable (kept, not deleted)` : "";
          this.#log.info(
            `${next.reason} scan: ${result.seen} paths, ${result.changed} changed, ${result.deleted} deleted${problems}, ${(result.durationMs / 1000).toFixed(1)} s`,
          );
        } catch (err) {
          this.#log.error(`${next.reason} scan failed`, err);
        }
      }
    } finally {
      this.#scanning = undefined;
      this.#scanAbort = undefined;
    }
  }

  /** Cancels the running scan (what it queued so far is still processed). */
  cancelScan(): boolean {
    if (!this.#scanAbort) return false;
    this.#scanAbort.abort();
    return true;
  }

  /** Resolves when no scan is running or queued. */
  async scansIdle(): Promise<void> {
    while (this.#scanning) await this.#scanning;
  }

  /** Starts monitoring duties: a catch-up scan now, then one every PeriodicRescanInterval. */
  startPeriodicScans(options: { initial?: boolean } = {}): void {
    this.requestScan(options.initial ? "initial" : "startup");
    const schedule = () => {
      this.#periodicTimer = this.clock.setTimeout(() => {
        this.requestScan("periodic");
        schedule();
      }, this.engine.parameters.periodicRescanInterval);
    };
    schedule();
  }

  /** Drains, closes the state cache and storage, and releases the lock. */
  async close(options: { drain?: boolean } = {}): Promise<void> {
    this.#closed = true;
    this.clock.clearTimeout(this.#periodicTimer);
    this.cancelScan();
    await this.scansIdle();
    // Whatever the drain meets (a damaged index halts the committer), everything is still closed and released.
    let failure: unknown;
    try {
      if (options.drain !== false) await this.drain();
      else {
        this.pipeline.close();
        this.queue.pause();
        await this.queue.settled();
        // A halted committer keeps its records; stopping without draining must still release everything.
        await this.committer.flush().catch((err: unknown) => {
          if (!this.committer.halted) throw err;
        });
      }
    } catch (err) {
      failure = err;
    }
    this.pipeline.close();
    this.queue.close();
    this.engine.setSubmitHandler(undefined);
    await this.cache.close();
    await this.storage.close?.();
    await this.#lock.release();
    if (failure !== undefined) throw failure;
  }
}
