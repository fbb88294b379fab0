import type { EntryStats } from "@rtbackup/linux-fs";
import { messageOf } from "../errors.js";
import { observe } from "../hooks.js";
import type { Logger } from "../logger.js";
import { isV2, type AnyRepository } from "../repository/openRepository.js";
import { Scanner, type ScanOutput } from "../scan/Scanner.js";
import type { StateCache } from "../state/StateCache.js";
import type { BackupAction, ChangeEvent, ScanInfo } from "../types.js";
import { ActionHolds } from "./ActionHolds.js";
import { ActionQueue } from "./ActionQueue.js";
import { BatchSnapshots } from "./BatchSnapshots.js";
import { Committer } from "./Committer.js";
import { LaneCommitter, type IndexCommitter } from "./LaneCommitter.js";
import { lstatBatchInSnapshots } from "./FileReader.js";
import { goneFromLiveTree } from "./goneFromLiveTree.js";
import { Intake, type IntakeOutput } from "./Intake.js";
import { isTransient, type BackoffPolicy } from "./retry.js";
import { RetrySchedule } from "./RetrySchedule.js";
import type { SharedSnapshot } from "./SharedSnapshot.js";
import { Stability, type PromotionReason } from "./Stability.js";
import type { StageContext } from "./StageContext.js";
import { StagingArea, type StagedFile } from "./StagingArea.js";
import { Uploader } from "./Uploader.js";
import { wakeAll } from "./waiters.js";
import { entryTypeOf } from "../entryTypes.js";

/** Uploads retry per path (through intake); a delete or move retries as itself. */
function retryKey(action: BackupAction): string {
  if (action.type === "upload") return action.path;
  return action.type === "move" ? `move\0${action.from}\0${action.to}` : `delete\0${action.path}`;
}

/** Options of {@link Pipeline}. */
export interface PipelineOptions {
  /** Give up on a path after this many failed attempts (bounded runs only). Default: never. */
  maxAttempts?: number;
  /** Retry timing of failed snapshots, uploads and index writes. Default {@link defaultBackoff}. */
  backoff?: BackoffPolicy;
  /** Checkpoint every N committed records. */
  checkpointEvery?: number;
  /** Newest batch time already in the index (batch times never go backwards). */
  lastBatchTime?: number;
  /** Called when a path is given up (bounded runs). */
  onGiveUp?: (path: string, error: unknown, attempts: number) => void;
  /** Called once when committing stops because the remote index is damaged. */
  onHalt?: (error: Error) => void;
}

/**
 * The seven stages, built and connected here, in order: 1–2 {@link Intake} (filters, coalescing, batches of
 * SnapshotSharingWindow), 3 {@link BatchSnapshots} (one snapshot per filesystem per batch), 4 {@link Stability}
 * (writers, long polling) and {@link StagingArea} (small files copied so the snapshot can go), 5 the
 * {@link ActionQueue}, 6 the {@link Uploader}, 7 the {@link Committer}. The {@link Scanner} is a source feeding
 * intake. The pipeline also owns the one retry path (every failure waits on {@link RetrySchedule}, on the injected
 * clock) and back-pressure for producers.
 */
export class Pipeline implements IntakeOutput, ScanOutput {
  readonly #context: StageContext;
  readonly #cache: StateCache;
  readonly #log: Logger;
  readonly #options: PipelineOptions;
  readonly intake: Intake;
  readonly #snapshots: BatchSnapshots;
  readonly stability: Stability;
  readonly #staging: StagingArea;
  /** Snapshot references and staging copies of queued uploads (released after the action, or when it is replaced). */
  readonly holds: ActionHolds;
  readonly queue: ActionQueue;
  readonly uploader: Uploader;
  readonly committer: IndexCommitter;
  readonly scanner: Scanner;
  readonly #retries: RetrySchedule;
  #batchesInFlight = 0;
  #throttled = false;
  #roomWaiters: (() => void)[] = [];
  #idleWaiters: (() => void)[] = [];
  readonly #failures = { snapshotFailures: 0, uploadFailures: 0, lastError: "", lastErrorAt: 0 };

  constructor(context: StageContext, repository: AnyRepository, cache: StateCache, options: PipelineOptions = {}) {
    const p = context.parameters;
    this.#context = context;
    this.#cache = cache;
    this.#options = options;
    this.#log = context.logger("pipeline");
    this.#retries = new RetrySchedule(context.clock, options.backoff, options.maxAttempts);
    this.intake = new Intake(context, this);
    this.#snapshots = new BatchSnapshots(context);
    this.stability = new Stability({
      context,
      pollInterval: p.openFileHandlePollingInterval,
      maxWaitForNoWriters: p.maximumTimeToWaitForNoOpenFileHandles,
      longPollingInterval: p.longPollingInterval,
      maxLongPollingTime: p.maximumLongPollingTime,
      promote: (path, shared, reason) => void context.work.run(() => this.#promote(path, shared, reason)),
      resnapshot: (paths) => this.#snapshotPaths(paths),
    });
    this.#staging = new StagingArea(p.stagingDirectory, p.maximumFileSizeForStagingCopy);
    this.holds = new ActionHolds(this.#staging);
    this.queue = new ActionQueue({
      concurrency: p.uploadThreadCount,
      handler: (action) => context.work.run(() => this.#perform(action)),
      onSettled: () => this.notify(),
      onReplaced: (old) =>
        void context.work.run(() => this.holds.release(old)).catch((err) => this.#log.warn(`releasing a replaced upload failed: ${messageOf(err)}`)),
    });
    const committing = {
      context,
      cache,
      delayMs: p.batchUploadConsolidationDelay,
      ...(options.lastBatchTime !== undefined ? { lastBatchTime: options.lastBatchTime } : {}),
      ...(options.onHalt ? { onHalt: options.onHalt } : {}),
      ...(options.backoff ? { backoff: options.backoff } : {}),
      ...(options.checkpointEvery ? { checkpointEvery: options.checkpointEvery } : {}),
    };
    this.committer = isV2(repository) ? new LaneCommitter({ ...committing, repository }) : new Committer({ ...committing, repository });
    const resubmit = (path: string) => this.submit({ type: "update", path });
    this.uploader = new Uploader({ context, repository, cache, committer: this.committer, resubmit });
    this.scanner = new Scanner(context, cache, this);
  }

  /** Counters of intake and of failures, for stats. */
  get stats() {
    return { ...this.intake.stats, ...this.#failures };
  }

  /** Paths somewhere between intake and the end of the action queue. */
  get outstanding(): number {
    const { intake, stability, queue } = this;
    return intake.inFlight + intake.batched + stability.waiting + stability.longPolling + queue.size + queue.running + this.#retries.waiting;
  }

  get paused(): boolean {
    return this.intake.paused;
  }

  /** Batches between closing and handing their files to stability. */
  get batchesInFlight(): number {
    return this.#batchesInFlight;
  }

  /** Events being taken in (filters running). */
  get intakesInFlight(): number {
    return this.intake.inFlight;
  }

  /** Events buffered while paused. */
  get bufferedCount(): number {
    return this.intake.buffered;
  }

  /** Snapshots currently held. */
  get activeSnapshots(): number {
    return this.#snapshots.active;
  }

  /** Files staged so far. */
  get staged(): number {
    return this.#staging.staged;
  }

  // Stage 1: sources and scans.

  /** Entry point of every change event (`engine.submit` lands here). */
  submit(event: ChangeEvent): void {
    this.intake.submit(event, () => this.notify());
  }

  admitFile(path: string): void {
    this.intake.admitScanned(path);
  }

  admitMetadata(path: string): void {
    this.enqueue({ type: "upload", path, source: path });
  }

  admitDelete(path: string): void {
    this.enqueue({ type: "delete", path });
  }

  /** One name of a file with more than one link, met by a scan (see {@link LinkNames}). */
  noteLink(path: string, stats: EntryStats): void {
    this.uploader.links.note(path, stats);
  }

  /** A FIFO, device or socket met by a scan: recorded like a directory's metadata when the repository keeps it. */
  admitSpecial(path: string, stats: EntryStats): void {
    if (this.uploader.records(entryTypeOf(stats))) this.admitMetadata(path);
    else this.uploader.skipSpecial(path, stats);
  }

  requestScan(reason: ScanInfo["reason"], roots?: string[]): void {
    this.scanner.request(reason, roots);
  }

  intakeFailed(path: string, error: unknown): void {
    this.#error("intake", path, error);
  }

  committed(path: string): boolean {
    if (this.#cache.get(path)) return true;
    for (const _ of this.#cache.entriesUnder(path)) return true;
    return false;
  }

  mayBeRecorded(path: string): boolean {
    if (this.committed(path)) return true;
    const { queue, committer, stability } = this;
    return queue.size + queue.running + committer.pendingCount + stability.waiting + stability.longPolling > 0;
  }

  // Stage 3: a closed batch is snapshotted, then stat'ed as a whole and handed to stability.

  snapshotBatch(paths: string[]): void {
    this.#batchesInFlight++;
    void this.#context.work
      .run(() => this.#processBatch(paths))
      .finally(() => {
        this.#batchesInFlight--;
        this.notify();
      });
  }

  /** One snapshot per filesystem; a failed one sends its paths back for a later batch, never "deleted". */
  async #snapshotPaths(paths: string[]): Promise<Map<string, SharedSnapshot>> {
    const { refs, failed } = await this.#snapshots.take(paths);
    for (const { paths: lost, error } of failed) {
      this.#failures.snapshotFailures++;
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
        if (this.mayBeRecorded(path)) this.enqueue({ type: "delete", path });
      } else if (st.isFile()) this.stability.add(path, shared);
      else this.#enqueueUpload(path, shared, undefined);
    });
    this.notify();
  }

  // Stage 4 → 5: a stable file is staged when small, then queued for upload.

  async #promote(path: string, shared: SharedSnapshot, reason: PromotionReason): Promise<void> {
    this.#log.debug(`${path} is stable (${reason})`);
    const failed = (err: unknown): undefined => void this.#log.debug(`staging ${path} failed (${messageOf(err)}); uploading from the snapshot`);
    const staged = shared.live ? undefined : await this.#staging.stage(shared.snapshot.pathOf(path)).catch(failed);
    if (staged) shared.release();
    this.#enqueueUpload(path, staged ? undefined : shared, staged);
  }

  #enqueueUpload(path: string, shared: SharedSnapshot | undefined, staged: StagedFile | undefined): void {
    const action: BackupAction = staged
      ? { type: "upload", path, source: staged.path, stats: staged.stats, xattrs: staged.xattrs }
      : { type: "upload", path, source: shared!.snapshot.pathOf(path), snapshot: shared!.snapshot };
    this.holds.hold(action, shared, staged);
    this.enqueue(action);
  }

  /** Stage 5: an action enters the queue (the `action` observers see it). */
  enqueue(action: BackupAction): void {
    observe(this.#context.hooks.action, action, this.#log);
    this.queue.enqueue(action);
    this.notify();
  }

  // Stage 6: the queue's handler.

  /**
   * Performs one action through the uploader, then releases its snapshot reference or staging copy. Every failure
   * takes the one retry path: an upload goes back through intake after a backoff (so it is read from a fresh
   * snapshot, and no snapshot is held across long failures); a delete or move is queued again after a backoff.
   */
  async #perform(action: BackupAction): Promise<void> {
    const path = action.type === "move" ? action.to : action.path;
    try {
      await this.uploader.handle(action);
      this.#retries.succeeded(retryKey(action));
      if (action.type === "upload" && (await goneFromLiveTree(action.path, () => this.scanner.roots(), this.#context.parameters))) {
        this.enqueue({ type: "delete", path: action.path });
      }
    } catch (err) {
      if (action.type === "upload") this.#failures.uploadFailures++;
      if (action.type === "upload") this.#retryLater(path, err, "upload");
      else this.#retryLater(path, err, "upload", action);
    } finally {
      await this.holds.release(action);
      this.notify();
    }
  }

  #error(stage: "intake" | "snapshot" | "upload", path: string, err: unknown): void {
    this.#failures.lastError = `${stage} ${path}: ${messageOf(err)}`;
    this.#failures.lastErrorAt = this.#context.clock.now();
    this.#log.error(`${stage} of ${path} failed`, err);
  }

  /**
   * The one retry path: the failure is logged and reported (`failure` hook); after a backoff the path goes back to
   * intake (or `action`, a delete or move, back to the queue). An error that says a retry cannot help, or a bounded
   * run's last attempt, gives the path up.
   */
  #retryLater(path: string, err: unknown, stage: "snapshot" | "upload", action?: BackupAction): void {
    this.#error(stage, path, err);
    const key = action ? retryKey(action) : path;
    const retry = action ? () => this.enqueue(action) : () => this.intake.addToBatch(path);
    const decision = isTransient(err) || !action ? this.#retries.failed(key, () => (retry(), this.notify())) : this.#retries.giveUp(key);
    const hooks = this.#context.hooks;
    if ("gaveUp" in decision) {
      observe(hooks.failure, { path, stage, error: err, attempts: decision.attempts }, this.#log);
      this.#options.onGiveUp?.(path, err, decision.attempts);
    } else observe(hooks.failure, { path, stage, error: err, attempts: decision.attempts, retryAt: decision.retryAt }, this.#log);
  }

  // Back-pressure and waiting.

  /**
   * Resolves when the pipeline is below the low-water mark (producers call it between submissions, from counted
   * work). While it holds a producer, the producer is not counted as work in flight (`WorkTracker.aside`). A producer
   * held back closes the open intake batch: its paths count as outstanding, and would otherwise wait for the end of
   * the SnapshotSharingWindow before anything could drain (a scan of a large tree stalled that long every time).
   */
  waitForRoom(): Promise<void> {
    if (this.outstanding >= this.#context.parameters.queueHighWaterMark) this.#throttled = true;
    if (!this.#throttled) return Promise.resolve();
    if (this.intake.batched > 0) this.intake.closeBatch();
    return this.#context.work.aside(new Promise((resolve) => this.#roomWaiters.push(resolve)));
  }

  /** Resolves when nothing is in intake, stability, snapshots-in-progress, retries, or the action queue. */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  readonly #isIdle = (): boolean => this.outstanding === 0 && this.#batchesInFlight === 0;

  /** Re-evaluates waiters; called whenever work completes. */
  notify(): void {
    if (this.#throttled && this.outstanding <= this.#context.parameters.queueLowWaterMark) {
      this.#throttled = false;
      wakeAll(this.#roomWaiters.splice(0));
    }
    if (this.#idleWaiters.length && this.#isIdle()) wakeAll(this.#idleWaiters.splice(0));
  }

  /** Waits until every queued action is done and every record committed. */
  async drain(): Promise<void> {
    for (;;) {
      await this.intake.flush();
      await this.idle();
      await this.queue.idle();
      await this.committer.flush();
      if (this.outstanding === 0 && this.committer.pendingCount === 0) return;
    }
  }

  /** Closes the open batch now (tests, shutdown). */
  flushBatch(): void {
    this.intake.closeBatch();
  }

  /** Waits until every submitted event has been taken in, then closes the open batch. */
  flush(): Promise<void> {
    return this.intake.flush();
  }

  /** Pauses monitoring: events are held until `unpause`. */
  pause(): void {
    this.intake.pause();
  }

  /** Resumes; held events are processed, or dropped when `discard` (then a rescan is the way to catch up). */
  unpause(options: { discard?: boolean } = {}): { processed: number; discarded: number } {
    const { events, overflow } = this.intake.unpause();
    if (options.discard) return { processed: 0, discarded: events.length };
    for (const e of events) this.submit(e);
    if (overflow) this.requestScan("overflow");
    return { processed: events.length, discarded: 0 };
  }

  /** Stops timers and releases every snapshot reference held by waiting files. */
  close(): void {
    this.intake.close();
    this.#retries.close();
    this.stability.clear();
  }
}
