import { IndexDamagedError, messageOf } from "../errors.js";
import type { Logger } from "../logger.js";
import type { LocalIdentity, StateCache } from "../state/StateCache.js";
import type { IndexRecord } from "../types.js";
import { sameEntry } from "./identity.js";
import { sleep } from "../clock.js";
import { observe } from "../hooks.js";
import { backoffDelay, type BackoffPolicy } from "./retry.js";
import type { StageContext } from "./StageContext.js";

/** Options of a committer (either format). */
export interface CommitterOptions {
  cache: StateCache;
  context: StageContext;
  /** BatchUploadConsolidationDelay: a batch closes this long after its first record. */
  delayMs: number;
  /** A batch also closes when it holds this many records. Default 5,000. */
  maxRecords?: number;
  /** Write a checkpoint once this many records were committed since the last one. Default 50,000. */
  checkpointEvery?: number;
  /** Newest batch time already in the index (batch times never go backwards). */
  lastBatchTime?: number;
  /** Retry timing of failed batch writes. */
  backoff?: BackoffPolicy;
  /** Called once when committing stops because the remote index is damaged. */
  onHalt?: (error: Error) => void;
}

interface Pending {
  record: IndexRecord;
  identity: LocalIdentity | undefined;
  /** A put of the entry the cache held when it was read: maybe only a new local identity (see {@link IndexCommitter.add}). */
  sameAsCached: boolean;
  resolve: () => void;
}

/** What the upload stage and the runtime use of stage 7, whatever the repository format. */
export interface IndexCommitter {
  readonly pendingCount: number;
  readonly halted: Error | undefined;
  readonly stats: { batches: number; records: number; checkpoints: number; retries: number; conflicts: number; lastCommitAt: number };
  /**
   * Hands in a record for the next batch. `sameAsCached`: a put of the very entry the state cache held when the file
   * was read, carrying only a new local identity; if the cache still holds that entry when the batch is written and
   * nothing else in the batch names the path, it updates the cache alone and writes nothing to the index.
   */
  add(record: IndexRecord, identity?: LocalIdentity, sameAsCached?: boolean): Promise<void>;
  flush(): Promise<void>;
  resume(): Promise<void>;
  checkpoint(): Promise<void>;
  /** Called before a file's content is read and deduplicated (v2: looks for a prune's new base, now and then). */
  beforeUpload?(): Promise<void>;
}

/**
 * Stage 7's batching, shared by both formats: gathers index records into batches (closed `delayMs` after their first
 * record, or at `maxRecords`), writes them one at a time through {@link write} (which retries until the batch is
 * stored — never dropped), then resolves the records, calls the `commit` hook and writes a checkpoint when due. A
 * write that fails for good (a damaged index, a state cache that cannot be written) halts it: the records are held,
 * never committed on top, and `flush` throws.
 */
export abstract class BatchCommitter implements IndexCommitter {
  protected readonly o: Required<Omit<CommitterOptions, "lastBatchTime" | "onHalt">> & Pick<CommitterOptions, "onHalt">;
  protected readonly log: Logger;
  /** Newest batch time written or seen (batch times never go backwards). */
  protected lastTime: number;
  #pending: Pending[] = [];
  #timer: unknown;
  #chain: Promise<void> = Promise.resolve();
  #halted: Error | undefined;
  /**
   * Whether a checkpoint may be written while commits go on (it covers only the batches it read, whatever is
   * committed meanwhile): one that reads its tree from the store may; one written from the state cache may not.
   */
  protected readonly checkpointBesideCommits: boolean = false;
  /** The checkpoint being written beside the commits, if any (one at a time). */
  #checkpointing: Promise<void> | undefined;
  /** After a checkpoint was deferred (an unresolved conflict), the next try waits for this many records. */
  protected checkpointDeferredUntil = 0;
  /** Records of batches not committed because committing halted (never dropped; the process stops). */
  readonly #held: Pending[] = [];
  /** Batches and records committed by this instance; `conflicts`: batches written again after another writer. */
  readonly stats = { batches: 0, records: 0, checkpoints: 0, retries: 0, conflicts: 0, lastCommitAt: 0 };

  constructor(options: CommitterOptions, logName = "commit") {
    this.o = { maxRecords: 5_000, checkpointEvery: 50_000, backoff: { baseMs: 1_000, maxMs: 60_000 }, ...options };
    this.lastTime = options.lastBatchTime ?? 0;
    this.log = options.context.logger(logName);
  }

  /** Stores one batch (retrying until it is stored) and applies it to the state cache; its number and key. */
  protected abstract write(records: IndexRecord[], identity: ReadonlyMap<string, LocalIdentity>): Promise<{ seq: number; key: string }>;
  /** Completes what a previous run left in flight. */
  abstract resume(): Promise<void>;
  /** Writes a checkpoint (retried; a failure only makes restores read more). */
  abstract checkpoint(): Promise<void>;

  /** Records waiting for the current batch to close (or held back by a halt). */
  get pendingCount(): number {
    return this.#pending.length + this.#held.length;
  }

  /** Adds a record; resolves once it is committed (stored remotely and in the state cache). */
  add(record: IndexRecord, identity?: LocalIdentity, sameAsCached = false): Promise<void> {
    return new Promise((resolve) => {
      this.#pending.push({ record, identity, sameAsCached, resolve });
      if (this.#pending.length >= this.o.maxRecords) this.#closeBatch();
      else if (this.#timer === undefined) this.#timer = this.o.context.clock.setTimeout(() => this.#closeBatch(), this.o.delayMs);
    });
  }

  /** The error that stopped committing: an {@link IndexDamagedError}, or a state cache that cannot be written. */
  get halted(): Error | undefined {
    return this.#halted;
  }

  /**
   * Closes the current batch now and waits until everything handed in so far is committed. Throws the error that
   * stopped committing (the records stay uncommitted).
   */
  async flush(): Promise<void> {
    this.#closeBatch();
    await this.#chain;
    await this.#checkpointing;
    if (this.#halted) throw this.#halted;
  }

  #closeBatch(): void {
    this.o.context.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    const previous = this.#chain;
    this.#chain = this.o.context.work.run(() => previous.then(() => this.#commit(batch)));
  }

  async #commit(batch: Pending[]): Promise<void> {
    if (this.#halted) {
      this.#held.push(...batch);
      return;
    }
    const local = this.#localOnly(batch);
    const records = batch.filter((p) => !local.has(p)).map((p) => p.record);
    const identity = new Map<string, LocalIdentity>();
    for (const p of batch) if (p.identity && p.record.op === "put" && !local.has(p)) identity.set(p.record.path, p.identity);
    let committed: { seq: number; key: string } | undefined;
    try {
      if (records.length) committed = await this.write(records, identity);
      if (local.size) await this.o.cache.setIdentities(local.values());
    } catch (err) {
      this.#held.push(...batch);
      this.halt(err);
      return;
    }
    if (!committed) {
      for (const p of batch) p.resolve();
      return;
    }
    this.stats.batches++;
    this.stats.records += records.length;
    this.stats.lastCommitAt = this.o.context.clock.now();
    this.log.debug(`committed batch ${committed.seq} (${records.length} records) as ${committed.key}`);
    for (const p of batch) p.resolve();
    await this.o.context.hooks.commit.promise({ sequence: committed.seq, key: committed.key, records }).catch((err) => {
      this.log.error("a commit observer failed", err);
    });
    // At least half as many records as the tree has paths, too: a checkpoint holds the whole tree, so one every
    // CheckpointEvery records made an initial backup of N files write N / CheckpointEvery ever larger trees (time and
    // memory quadratic in N). Doubling keeps their sum under 2N, and a reader replays at most half a tree of records.
    const since = this.o.cache.recordsSinceCheckpoint;
    const due = since >= this.o.checkpointEvery && since >= this.checkpointDeferredUntil && since * 2 >= this.o.cache.size;
    if (!due || this.#checkpointing) return;
    if (!this.checkpointBesideCommits) return this.checkpoint();
    // Beside the commits, not in their chain: commits (and the files waiting on them) go on while it is written.
    this.#checkpointing = this.o.context.work
      .run(() => this.checkpoint())
      .catch((err: unknown) => this.log.error("writing a checkpoint failed (the next is tried after more records)", err))
      .finally(() => (this.#checkpointing = undefined));
  }

  /**
   * The puts of `batch` that only carry a new local identity: handed in as the entry the cache held, the cache still
   * holds it (every earlier batch is applied by now), and no other record of the batch names the path or moves or
   * deletes anything (which could touch it).
   */
  #localOnly(batch: readonly Pending[]): Map<Pending, readonly [string, LocalIdentity]> {
    const local = new Map<Pending, readonly [string, LocalIdentity]>();
    if (!batch.some((p) => p.sameAsCached) || batch.some((p) => p.record.op !== "put")) return local;
    const count = new Map<string, number>();
    for (const p of batch) if (p.record.op === "put") count.set(p.record.path, (count.get(p.record.path) ?? 0) + 1);
    for (const p of batch) {
      if (!p.sameAsCached || !p.identity || p.record.op !== "put" || count.get(p.record.path) !== 1) continue;
      const cached = this.o.cache.get(p.record.path);
      const { op: _op, ...entry } = p.record;
      if (cached && sameEntry(cached, entry)) local.set(p, [entry.path, p.identity]);
    }
    return local;
  }

  protected halt(err: unknown): void {
    const error = err instanceof Error ? err : new Error(messageOf(err));
    this.#halted = error;
    if (err instanceof IndexDamagedError) {
      this.log.error(`the remote index is damaged; committing stopped (nothing is written on top of it): ${error.message}`);
    } else this.log.error(`committing stopped: ${error.message}`);
    this.o.onHalt?.(error);
  }

  /** Retries `fn` with backoff until it succeeds; a damaged index is never retried. */
  protected async retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof IndexDamagedError) throw err;
        this.stats.retries++;
        const wait = backoffDelay(attempt, this.o.backoff.baseMs, this.o.backoff.maxMs);
        this.log.error(`${what} failed (attempt ${attempt}); retrying in ${wait} ms`, err);
        // A batch holds many paths: the failure names the index operation instead (docs/plugins.md, `failure`).
        const retryAt = this.o.context.clock.now() + wait;
        observe(this.o.context.hooks.failure, { path: what, stage: "commit", error: err, attempts: attempt, retryAt }, this.log);
        await sleep(this.o.context.clock, wait);
      }
    }
  }
}
