import type { Clock } from "./clock.js";
import type { Parameters } from "./config/Parameters.js";
import type { EngineHooks } from "./EngineHooks.js";
import { messageOf } from "./errors.js";
import type { Logger } from "./logger.js";
import { agentStats, type AgentStats } from "./agentStats.js";
import { Pipeline } from "./pipeline/Pipeline.js";
import type { BackoffPolicy } from "./pipeline/retry.js";
import type { StageContext } from "./pipeline/StageContext.js";
import type { Resources } from "./Resources.js";
import type { ScanStatus } from "./scan/Scanner.js";
import type { ScanResult } from "./scan/ScanResult.js";
import type { SourceHealthBoard } from "./SourceHealth.js";
import type { ChangeEvent, ScanInfo } from "./types.js";

export type { AgentStats } from "./agentStats.js";
export type { ScanResult } from "./scan/ScanResult.js";

/** A file that kept failing in a bounded run (initial backup then exit). */
export interface GaveUp {
  path: string;
  error: string;
  attempts: number;
}

/** Options of `engine.start()`. */
export interface RuntimeOptions {
  /** Give up on an action after this many attempts (for runs that must end). Default: never. */
  maxAttempts?: number;
  /** Checkpoint every N committed records. Default: the CheckpointEvery parameter. */
  checkpointEvery?: number;
  /** Time source of every timer and retry (tests inject a manual clock). */
  clock?: Clock;
  /** Retry timing of failed snapshots, uploads and index writes (tests shorten it). */
  backoff?: BackoffPolicy;
}

/** What the engine hands its runtime: the stages' context, plus the source health board and the submit entry. */
export interface RuntimeContext extends StageContext {
  readonly sourceHealth: SourceHealthBoard;
  /** `engine.submit`: observers, then the pipeline. */
  submit(event: ChangeEvent): void;
}

/**
 * The running agent, returned by `engine.start()`: the {@link Resources} it opened and the {@link Pipeline} built on
 * them (whose scanner is one of its sources). What the cli, the bridge and tests read and call is here.
 */
export class Runtime {
  readonly #context: RuntimeContext;
  readonly resources: Resources;
  readonly pipeline: Pipeline;
  /** Files a bounded run gave up on. */
  readonly gaveUp: GaveUp[] = [];
  #halt: (error: Error) => void = () => undefined;
  /**
   * Settles with the error that stopped committing (a damaged remote index, docs/format.md "A damaged index");
   * never settles otherwise. The daemon exits on it.
   */
  readonly halted: Promise<Error> = new Promise((resolve) => {
    this.#halt = resolve;
  });

  private constructor(context: RuntimeContext, resources: Resources, options: RuntimeOptions) {
    this.#context = context;
    this.resources = resources;
    this.pipeline = new Pipeline(context, resources.repository, resources.cache, {
      lastBatchTime: resources.sync.lastBatchTime,
      onHalt: (error) => this.#halt(error),
      onGiveUp: (path, error, attempts) => this.gaveUp.push({ path, error: messageOf(error), attempts }),
      ...(options.backoff ? { backoff: options.backoff } : {}),
      ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
      checkpointEvery: options.checkpointEvery ?? context.parameters.checkpointEvery,
    });
    context.hooks.commit.tap({ name: "Runtime", stage: -100 }, () => this.pipeline.uploader.forgetCommittedChunks());
  }

  /** Builds the pipeline on opened resources and completes a batch the previous run left in flight. */
  static async open(context: RuntimeContext, resources: Resources, options: RuntimeOptions = {}): Promise<Runtime> {
    const runtime = new Runtime(context, resources, options);
    try {
      await runtime.pipeline.committer.resume();
    } catch (err) {
      runtime.pipeline.close();
      await resources.close();
      throw err;
    }
    return runtime;
  }

  get hooks(): EngineHooks {
    return this.#context.hooks;
  }
  get parameters(): Parameters {
    return this.#context.parameters;
  }
  get clock(): Clock {
    return this.#context.clock;
  }
  get sourceHealth(): SourceHealthBoard {
    return this.#context.sourceHealth;
  }
  get storage() {
    return this.resources.storage;
  }
  get repository() {
    return this.resources.repository;
  }
  get cache() {
    return this.resources.cache;
  }
  get sync() {
    return this.resources.sync;
  }
  get queue() {
    return this.pipeline.queue;
  }
  get uploader() {
    return this.pipeline.uploader;
  }
  get committer() {
    return this.pipeline.committer;
  }
  get scanStatus(): ScanStatus {
    return this.pipeline.scanner.status;
  }

  /** A named logger of the engine. */
  logger(name: string): Logger {
    return this.#context.logger(name);
  }

  /** Submits a change event as a source does (`engine.submit`). */
  submit(event: ChangeEvent): void {
    this.#context.submit(event);
  }

  /**
   * One object with everything an operator wants to see: queue sizes per stage, uploads in progress (bytes done,
   * total, rate), totals, errors, rescan status. Read by the console and the bridge; contains no secrets.
   */
  stats(options: { includeUploads?: boolean } = {}): AgentStats {
    return agentStats(this, options);
  }

  /** The roots scans walk: `backupRoots` through the `roots` hook. */
  roots(): Promise<string[]> {
    return this.pipeline.scanner.roots();
  }

  /** Runs one scan now (see {@link Scanner.scan}). */
  scan(reason: ScanInfo["reason"], roots?: string[]): Promise<ScanResult> {
    return this.pipeline.scanner.scan(reason, roots);
  }

  /** Queues a scan (`roots` undefined: all roots); requests coalesce. */
  requestScan(reason: ScanInfo["reason"], roots?: string[]): void {
    this.pipeline.scanner.request(reason, roots);
  }

  /** Cancels the running scan (what it queued so far is still processed). */
  cancelScan(): boolean {
    return this.pipeline.scanner.cancel();
  }

  /** Resolves when no scan is running or queued. */
  scansIdle(): Promise<void> {
    return this.pipeline.scanner.idle();
  }

  /** Starts monitoring duties: a catch-up scan now, then one every PeriodicRescanInterval. */
  startPeriodicScans(options: { initial?: boolean } = {}): void {
    this.pipeline.scanner.startPeriodic(options);
  }

  /**
   * Resolves when no asynchronous work is in flight (hook calls, file and store I/O): from then on only a timer
   * firing or a new event can move the pipeline. With a manual clock, tests advance it, await this, and assert.
   */
  quiet(): Promise<void> {
    return this.#context.work.quiet();
  }

  /** Waits until every queued action is done and every record committed. */
  drain(): Promise<void> {
    return this.pipeline.drain();
  }

  /** Stops scans, drains (unless `drain: false`), then closes the pipeline and the resources. */
  async close(options: { drain?: boolean } = {}): Promise<void> {
    const { pipeline } = this;
    await pipeline.scanner.close();
    // Whatever the drain meets (a damaged index halts the committer), everything is still closed and released.
    let failure: unknown;
    try {
      if (options.drain !== false) await pipeline.drain();
      else {
        pipeline.close();
        pipeline.queue.pause();
        await pipeline.queue.settled();
        // A halted committer keeps its records; stopping without draining must still release everything.
        await pipeline.committer.flush().catch((err: unknown) => {
          if (!pipeline.committer.halted) throw err;
        });
      }
    } catch (err) {
      failure = err;
    }
    pipeline.close();
    pipeline.queue.close();
    await this.resources.close();
    if (failure !== undefined) throw failure;
  }
}
