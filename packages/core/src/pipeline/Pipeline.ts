import type { Clock } from "../clock.js";
import { lstatBatchInSnapshots, lstatPath } from "./FileReader.js";
import { goneFromLiveTree } from "./goneFromLiveTree.js";
import { messageOf } from "../errors.js";
import type { Logger } from "../logger.js";
import { isPathUnder } from "../repository/format.js";
import type { BackupAction, ChangeEvent } from "../types.js";
import type { Runtime } from "./Runtime.js";
import type { SharedSnapshot } from "./SharedSnapshot.js";
import { BatchSnapshots } from "./BatchSnapshots.js";
import { Stability, type PromotionReason } from "./Stability.js";
import { StagingArea, type StagedFile } from "./StagingArea.js";
import { ActionHolds } from "./ActionHolds.js";
import { wakeAll } from "./waiters.js";
import type { BackoffPolicy } from "./retry.js";
import { RetrySchedule } from "./RetrySchedule.js";
import { PauseBuffer } from "./PauseBuffer.js";

/** Options of {@link Pipeline}. */
export interface PipelineOptions {
  clock: Clock;
  /** Give up on a path after this many failed attempts (bounded runs only). Default: never. */
  maxAttempts?: number;
  /** Retry timing of failed snapshots and uploads. Default {@link defaultBackoff}. */
  backoff?: BackoffPolicy;
  /** Called when a path is given up. */
  onGiveUp?: (path: string, error: unknown, attempts: number) => void;
}

/**
 * Stages 1–4 in front of the action queue: intake (filters, coalescing, batching by SnapshotSharingWindow),
 * snapshots (one per filesystem per batch, shared and reference-counted), stability (writers, long polling), then
 * upload actions with staging copies. Also pause/unpause, back-pressure for producers, and retries of failed
 * uploads through a fresh snapshot.
 */
export class Pipeline {
  readonly #rt: Runtime;
  readonly #o: PipelineOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly stability: Stability;
  #batch = new Set<string>();
  #batchTimer: unknown;
  #batchesInFlight = 0;
  readonly #pause = new PauseBuffer();
  readonly #retries: RetrySchedule;
  readonly #snapshots: BatchSnapshots;
  #roomWaiters: (() => void)[] = [];
  #throttled = false;
  #idleWaiters: (() => void)[] = [];
  readonly #staging: StagingArea;
  /** Snapshot references and staging copies of queued uploads (released by `handle`, or when an upload is replaced). */
  readonly holds: ActionHolds;
  #intakesInFlight = 0;
  readonly stats = { events: 0, excluded: 0, coalesced: 0, batches: 0, snapshotFailures: 0, uploadFailures: 0, lastError: "" as string, lastErrorAt: 0 };

  /** Files staged so far. */
  get staged(): number {
    return this.#staging.staged;
  }

  constructor(runtime: Runtime, options: PipelineOptions) {
    this.#rt = runtime;
    this.#o = options;
    this.#clock = options.clock;
    this.#log = runtime.engine.getLogger("pipeline");
    const p = runtime.engine.parameters;
    this.#retries = new RetrySchedule(this.#clock, options.backoff, options.maxAttempts, (path) => {
      this.#addToBatch(path);
      this.notify();
    });
    this.#snapshots = new BatchSnapshots(runtime.engine, this.#clock, this.#log);
    this.#staging = new StagingArea(p.stagingDirectory, p.maximumFileSizeForStagingCopy);
    this.holds = new ActionHolds(this.#staging);
    this.stability = new Stability({
      engine: runtime.engine,
      clock: this.#clock,
      pollInterval: p.openFileHandlePollingInterval,
      maxWaitForNoWriters: p.maximumTimeToWaitForNoOpenFileHandles,
      longPollingInterval: p.longPollingInterval,
      maxLongPollingTime: p.maximumLongPollingTime,
      promote: (path, shared, reason) => void this.#promote(path, shared, reason),
      resnapshot: (paths) => this.#snapshotPaths(paths),
    });
  }

  /** Paths somewhere between intake and the end of the action queue. */
  get outstanding(): number {
    return (
      this.#intakesInFlight +
      this.#batch.size +
      this.stability.waiting +
      this.stability.longPolling +
      this.#rt.queue.size +
      this.#rt.queue.running +
      this.#retries.waiting
    );
  }

  get paused(): boolean {
    return this.#pause.paused;
  }

  /** Batches between closing and handing their files to stability. */
  get batchesInFlight(): number {
    return this.#batchesInFlight;
  }

  /** Events being taken in (filters running). */
  get intakesInFlight(): number {
    return this.#intakesInFlight;
  }

  /** Events buffered while paused. */
  get bufferedCount(): number {
    return this.#pause.count;
  }

  /** Snapshots currently held. */
  get activeSnapshots(): number {
    return this.#snapshots.active;
  }

  /** Resolves when the pipeline is below the low-water mark (producers call it between submissions). */
  waitForRoom(): Promise<void> {
    const p = this.#rt.engine.parameters;
    if (this.outstanding >= p.queueHighWaterMark) this.#throttled = true;
    if (!this.#throttled) return Promise.resolve();
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  /** Resolves when nothing is in intake, stability, snapshots-in-progress, retries, or the action queue. */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  readonly #isIdle = (): boolean => this.outstanding === 0 && this.#batchesInFlight === 0;

  /** Re-evaluates waiters; called whenever work completes. */
  notify(): void {
    const p = this.#rt.engine.parameters;
    if (this.#intakesInFlight === 0) wakeAll(this.#intakeWaiters.splice(0));
    if (this.#throttled && this.outstanding <= p.queueLowWaterMark) {
      this.#throttled = false;
      wakeAll(this.#roomWaiters.splice(0));
    }
    if (this.#idleWaiters.length && this.#isIdle()) wakeAll(this.#idleWaiters.splice(0));
  }

  /** Pauses monitoring: events are buffered until `unpause`. */
  pause(): void {
    this.#pause.pause();
  }

  /** Resumes; buffered events are processed, or dropped when `discard` (then a rescan is the way to catch up). */
  unpause(options: { discard?: boolean } = {}): { processed: number; discarded: number } {
    const { events, overflow } = this.#pause.release();
    if (options.discard) return { processed: 0, discarded: events.length };
    for (const e of events) this.submit(e);
    if (overflow) this.#rt.requestScan("overflow");
    return { processed: events.length, discarded: 0 };
  }

  /** Entry point of every change event (sources call `engine.submit`, which lands here). */
  submit(event: ChangeEvent): void {
    this.stats.events++;
    if (this.#pause.hold(event)) return;
    this.#intakesInFlight++;
    void this.#intake(event)
      .catch((err) => this.#error("intake", "path" in event ? event.path : event.to, err))
      .finally(() => {
        this.#intakesInFlight--;
        this.notify();
      });
  }

  async #included(path: string, event: ChangeEvent): Promise<boolean> {
    const hook = this.#rt.engine.hooks.intake;
    if (!hook.isUsed()) return true;
    const ok = (await hook.promise({ path, event })) !== "exclude";
    if (!ok) this.stats.excluded++;
    return ok;
  }

  /** Whether the committed state has `path` (or anything under it). */
  #committed(path: string): boolean {
    if (this.#rt.cache.get(path)) return true;
    for (const _ of this.#rt.cache.entriesUnder(path)) return true;
    return false;
  }

  /**
   * Whether a delete or move of `path` must be recorded: it is committed, or work that may record it is still in
   * flight (queued uploads and moves, records not yet committed). In the second case the record may turn out to be
   * a no-op, which is harmless; dropping it would leave a file in the backup that is gone.
   */
  #known(path: string): boolean {
    if (this.#committed(path)) return true;
    return this.#rt.queue.size + this.#rt.queue.running + this.#rt.committer.pendingCount + this.stability.waiting + this.stability.longPolling > 0;
  }

  async #intake(event: ChangeEvent): Promise<void> {
    switch (event.type) {
      case "update":
        if (await this.#included(event.path, event)) this.#addToBatch(event.path);
        return;
      case "rescan":
        this.#rt.requestScan(event.reason === "overflow" ? "overflow" : "request", [event.path]);
        return;
      case "delete": {
        if (!(await this.#included(event.path, event))) return;
        const dropped = this.#dropPending(event.path);
        if (dropped) this.stats.coalesced += dropped;
        if (this.#known(event.path)) this.#enqueue({ type: "delete", path: event.path });
        return;
      }
      case "move": {
        const [fromOk, toOk] = await Promise.all([this.#included(event.from, event), this.#included(event.to, event)]);
        if (!fromOk && !toOk) return;
        if (!toOk) return this.#intake({ type: "delete", path: event.from });
        // Pending updates follow the move: an update then a rename uploads to the new path.
        for (const p of [...this.#batch]) {
          if (isPathUnder(p, event.from)) {
            this.#batch.delete(p);
            this.#batch.add(event.to + p.slice(event.from.length));
          }
        }
        if (fromOk && this.#known(event.from)) this.#enqueue({ type: "move", from: event.from, to: event.to });
        // Content not committed under `from` yet would not move with the record: make sure `to` is read itself.
        if (!(fromOk && this.#committed(event.from)) && !this.#batch.has(event.to)) {
          const st = await lstatPath(event.to).catch(() => undefined);
          if (st?.isDirectory()) this.#rt.requestScan("request", [event.to]);
          else if (st) this.#addToBatch(event.to);
        }
        return;
      }
    }
  }

  #dropPending(path: string): number {
    let n = 0;
    for (const p of [...this.#batch]) {
      if (isPathUnder(p, path)) {
        this.#batch.delete(p);
        n++;
      }
    }
    return n;
  }

  /** Adds a path to the current batch; the first path opens the SnapshotSharingWindow. */
  #addToBatch(path: string): void {
    if (this.#batch.has(path)) {
      this.stats.coalesced++;
      return;
    }
    this.#batch.add(path);
    if (this.#batchTimer === undefined) {
      this.#batchTimer = this.#clock.setTimeout(() => this.#closeBatch(), this.#rt.engine.parameters.snapshotSharingWindow);
    }
  }

  /** Closes the current batch now (tests, shutdown). */
  flushBatch(): void {
    this.#closeBatch();
  }

  /** Waits until every submitted event has been taken in, then closes the current batch (drain, end of a scan). */
  async flush(): Promise<void> {
    while (this.#intakesInFlight > 0) await new Promise<void>((resolve) => this.#intakeWaiters.push(resolve));
    this.#closeBatch();
  }

  #intakeWaiters: (() => void)[] = [];

  #closeBatch(): void {
    this.#clock.clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
    if (this.#batch.size === 0) return;
    const paths = [...this.#batch];
    this.#batch = new Set();
    this.stats.batches++;
    this.#batchesInFlight++;
    void this.#processBatch(paths).finally(() => {
      this.#batchesInFlight--;
      this.notify();
    });
  }

  /** One snapshot per filesystem; a failed one sends its paths back for a later batch, never "deleted". */
  async #snapshotPaths(paths: string[]): Promise<Map<string, SharedSnapshot>> {
    const { refs, failed } = await this.#snapshots.take(paths);
    for (const { paths: lost, error } of failed) {
      this.stats.snapshotFailures++;
      for (const p of lost) this.#retryLater(p, error, "snapshot");
    }
    return refs;
  }

  async #processBatch(paths: string[]): Promise<void> {
    const refs = [...(await this.#snapshotPaths(paths))];
    // Stat the whole batch first, then hand it to stability in one go: one open-files check per batch, not per file.
    const stats = await lstatBatchInSnapshots(refs);
    refs.forEach(([path, shared], i) => {
      const st = stats[i];
      if (st instanceof Error) {
        shared.release();
        this.#retryLater(path, st, "snapshot");
      } else if (!st) {
        // Gone at snapshot time: only this file lets go of the snapshot; the rest of the batch is unaffected.
        shared.release();
        if (this.#known(path)) this.#enqueue({ type: "delete", path });
      } else if (st.isFile()) this.stability.add(path, shared);
      else this.#enqueueUpload(path, shared, undefined);
    });
    this.notify();
  }

  async #promote(path: string, shared: SharedSnapshot, reason: PromotionReason): Promise<void> {
    this.#log.debug(`${path} is stable (${reason})`);
    if (!shared.live) {
      try {
        const staged = await this.#staging.stage(shared.snapshot.pathOf(path));
        if (staged) {
          shared.release();
          this.#enqueueUpload(path, undefined, staged);
          return;
        }
      } catch (err) {
        this.#log.debug(`staging ${path} failed (${messageOf(err)}); uploading from the snapshot`);
      }
    }
    this.#enqueueUpload(path, shared, undefined);
  }

  #enqueueUpload(path: string, shared: SharedSnapshot | undefined, staged: StagedFile | undefined): void {
    const action: BackupAction = staged
      ? { type: "upload", path, source: staged.path, stats: staged.stats }
      : { type: "upload", path, source: shared!.snapshot.pathOf(path), snapshot: shared!.snapshot };
    this.holds.hold(action, shared, staged);
    this.#enqueue(action);
  }

  #enqueue(action: BackupAction): void {
    this.#rt.engine.hooks.action.call(action);
    this.#rt.queue.enqueue(action);
    this.notify();
  }

  /**
   * The action-queue handler for pipeline actions: performs the action, then releases its snapshot reference or
   * staging copy. A failed upload is not retried from the same snapshot: the path goes back through intake after a
   * backoff, so it is read from a fresh snapshot (and a snapshot is never held across long failures).
   */
  readonly handle = async (action: BackupAction): Promise<void> => {
    const path = action.type === "move" ? action.to : action.path;
    try {
      await this.#rt.uploader.handle(action);
      this.#retries.succeeded(path);
      if (action.type === "upload" && (await goneFromLiveTree(action.path, this.#rt))) this.#enqueue({ type: "delete", path: action.path });
    } catch (err) {
      if (action.type !== "upload") throw err;
      this.stats.uploadFailures++;
      this.#retryLater(path, err, "upload");
    } finally {
      await this.holds.release(action);
      this.notify();
    }
  };

  #error(stage: "intake" | "snapshot" | "upload", path: string, err: unknown): void {
    this.stats.lastError = `${stage} ${path}: ${messageOf(err)}`;
    this.stats.lastErrorAt = this.#clock.now();
    this.#log.error(`${stage} of ${path} failed`, err);
  }

  #retryLater(path: string, err: unknown, stage: "snapshot" | "upload"): void {
    this.#error(stage, path, err);
    const decision = this.#retries.failed(path);
    if ("gaveUp" in decision) {
      this.#rt.engine.hooks.failure.call({ path, stage, error: err, attempts: decision.attempts });
      this.#o.onGiveUp?.(path, err, decision.attempts);
    } else {
      this.#rt.engine.hooks.failure.call({ path, stage, error: err, attempts: decision.attempts, retryAt: decision.retryAt });
    }
  }

  /** Stops timers and releases every snapshot reference held by waiting files. */
  close(): void {
    this.#clock.clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
    this.#retries.close();
    this.stability.clear();
  }
}
