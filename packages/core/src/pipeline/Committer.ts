import type { Engine } from "../Engine.js";
import type { Logger } from "../logger.js";
import type { Repository } from "../repository/Repository.js";
import type { LocalIdentity, StateCache } from "../state/StateCache.js";
import type { IndexRecord } from "../types.js";
import { backoffDelay, delay, type BackoffPolicy } from "./retry.js";

/** Options of {@link Committer}. */
export interface CommitterOptions {
  repository: Repository;
  cache: StateCache;
  engine: Engine;
  /** BatchUploadConsolidationDelay: a batch closes this long after its first record. */
  delayMs: number;
  /** A batch also closes when it holds this many records. Default 5,000. */
  maxRecords?: number;
  /** Write a checkpoint once this many records were committed since the last one. Default 50,000. */
  checkpointEvery?: number;
  /** Newest batch time already in the index (batch times never go backwards). */
  lastBatchTime?: number;
  now?: () => number;
  /** Retry timing of failed batch writes. */
  backoff?: BackoffPolicy;
}

interface Pending {
  record: IndexRecord;
  identity: LocalIdentity | undefined;
  resolve: () => void;
}

/**
 * Stage 7: gathers index records into batches, writes each batch (retrying until it is stored — never dropped),
 * then updates the state cache and calls the `commit` hook; writes checkpoints periodically. Content named by a
 * record is always stored before the record is handed here (the upload stage awaits its chunks first).
 */
export class Committer {
  readonly #o: Required<Omit<CommitterOptions, "lastBatchTime">>;
  readonly #log: Logger;
  #pending: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;
  #chain: Promise<void> = Promise.resolve();
  #lastTime: number;
  #failures = 0;
  /** Batches and records committed by this instance. */
  readonly stats = { batches: 0, records: 0, checkpoints: 0, retries: 0, lastCommitAt: 0 };

  constructor(options: CommitterOptions) {
    this.#o = { maxRecords: 5_000, checkpointEvery: 50_000, now: Date.now, backoff: { baseMs: 1_000, maxMs: 60_000 }, ...options };
    this.#lastTime = options.lastBatchTime ?? 0;
    this.#log = options.engine.getLogger("commit");
  }

  /** Records waiting for the current batch to close. */
  get pendingCount(): number {
    return this.#pending.length;
  }

  /** Adds a record; resolves once it is committed (stored remotely and in the state cache). */
  add(record: IndexRecord, identity?: LocalIdentity): Promise<void> {
    return new Promise((resolve) => {
      this.#pending.push({ record, identity, resolve });
      if (this.#pending.length >= this.#o.maxRecords) this.#closeBatch();
      else if (!this.#timer) this.#timer = setTimeout(() => this.#closeBatch(), this.#o.delayMs);
    });
  }

  /** Closes the current batch now and waits until everything handed in so far is committed. */
  async flush(): Promise<void> {
    this.#closeBatch();
    await this.#chain;
  }

  #closeBatch(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#chain = this.#chain.then(() => this.#commit(batch));
  }

  async #commit(batch: Pending[]): Promise<void> {
    const records = batch.map((p) => p.record);
    const identity = new Map<string, LocalIdentity>();
    for (const p of batch) if (p.identity && p.record.op === "put") identity.set(p.record.path, p.identity);
    const seq = this.#o.cache.lastSequence + 1;
    const time = Math.max(this.#o.now(), this.#lastTime);
    for (let attempt = 1; ; attempt++) {
      try {
        const key = await this.#o.repository.writeBatch(seq, time, records);
        this.#lastTime = time;
        await this.#o.cache.applyBatch(seq, records, identity);
        this.#failures = 0;
        this.stats.batches++;
        this.stats.records += records.length;
        this.stats.lastCommitAt = this.#o.now();
        this.#log.debug(`committed batch ${seq} (${records.length} records) as ${key}`);
        for (const p of batch) p.resolve();
        await this.#o.engine.hooks.commit.promise({ sequence: seq, key, records }).catch((err) => {
          this.#log.error("a commit observer failed", err);
        });
        break;
      } catch (err) {
        this.#failures++;
        this.stats.retries++;
        const wait = backoffDelay(attempt, this.#o.backoff.baseMs, this.#o.backoff.maxMs);
        this.#log.error(`writing index batch ${seq} failed (attempt ${attempt}); retrying in ${wait} ms`, err);
        await delay(wait);
      }
    }
    if (this.#o.cache.recordsSinceCheckpoint >= this.#o.checkpointEvery) await this.checkpoint();
  }

  /** Writes a checkpoint of the whole state as of the last committed batch (retried on failure). */
  async checkpoint(): Promise<void> {
    const seq = this.#o.cache.lastSequence;
    if (seq < 0 || seq === this.#o.cache.lastCheckpointSequence) return;
    for (let attempt = 1; attempt <= 5; attempt++) {
      try {
        const key = await this.#o.repository.writeCheckpoint(seq, this.#lastTime, this.#o.cache.entries(), this.#o.cache.size);
        await this.#o.cache.markCheckpoint(seq);
        this.stats.checkpoints++;
        this.#log.info(`wrote checkpoint ${key} (${this.#o.cache.size} entries)`);
        return;
      } catch (err) {
        this.#log.error(`writing checkpoint at batch ${seq} failed (attempt ${attempt})`, err);
        await delay(backoffDelay(attempt, this.#o.backoff.baseMs, this.#o.backoff.maxMs));
      }
    }
    // A missing checkpoint only makes restores read more batches; the next commit tries again.
  }
}
