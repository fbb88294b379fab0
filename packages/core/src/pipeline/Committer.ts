import { IndexDamagedError, messageOf } from "../errors.js";
import type { IndexObjectName } from "../repository/format.js";
import { readJournal } from "../repository/journal.js";
import { applyJournal } from "../repository/syncState.js";
import type { Logger } from "../logger.js";
import type { Repository } from "../repository/Repository.js";
import type { LocalIdentity, StateCache } from "../state/StateCache.js";
import type { IndexRecord } from "../types.js";
import { sleep } from "../clock.js";
import { backoffDelay, type BackoffPolicy } from "./retry.js";
import type { StageContext } from "./StageContext.js";

/** Options of {@link Committer}. */
export interface CommitterOptions {
  repository: Repository;
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
  resolve: () => void;
}

/**
 * Stage 7: gathers index records into batches, writes each batch (retrying until it is stored — never dropped),
 * confirms it is the only batch with its sequence number (or writes it again above another writer's), then updates
 * the state cache and calls the `commit` hook; writes checkpoints periodically. Before each commit it checks the
 * index it builds on; a damaged index halts it (never a commit on top) and `flush` throws. Content named by a
 * record is always stored before the record is handed here (the upload stage awaits its chunks first).
 */
export class Committer {
  readonly #o: Required<Omit<CommitterOptions, "lastBatchTime" | "onHalt">> & Pick<CommitterOptions, "onHalt">;
  readonly #log: Logger;
  #pending: Pending[] = [];
  #timer: unknown;
  #chain: Promise<void> = Promise.resolve();
  #lastTime: number;
  #halted: Error | undefined;
  /** After a checkpoint was deferred (an unresolved conflict), the next try waits for this many records. */
  #checkpointDeferredUntil = 0;
  /** Records of batches not committed because the index is damaged (never dropped; the process stops). */
  readonly #held: Pending[] = [];
  /** Batches and records committed by this instance; `conflicts`: batches written again after another writer. */
  readonly stats = { batches: 0, records: 0, checkpoints: 0, retries: 0, conflicts: 0, lastCommitAt: 0 };

  constructor(options: CommitterOptions) {
    this.#o = { maxRecords: 5_000, checkpointEvery: 50_000, backoff: { baseMs: 1_000, maxMs: 60_000 }, ...options };
    this.#lastTime = options.lastBatchTime ?? 0;
    this.#log = options.context.logger("commit");
  }

  /** Records waiting for the current batch to close (or held back by a halt). */
  get pendingCount(): number {
    return this.#pending.length + this.#held.length;
  }

  /** Adds a record; resolves once it is committed (stored remotely and in the state cache). */
  add(record: IndexRecord, identity?: LocalIdentity): Promise<void> {
    return new Promise((resolve) => {
      this.#pending.push({ record, identity, resolve });
      if (this.#pending.length >= this.#o.maxRecords) this.#closeBatch();
      else if (this.#timer === undefined) this.#timer = this.#o.context.clock.setTimeout(() => this.#closeBatch(), this.#o.delayMs);
    });
  }

  /** The error that stopped committing: an {@link IndexDamagedError}, or a state cache that cannot be written. */
  get halted(): Error | undefined {
    return this.#halted;
  }

  /**
   * Closes the current batch now and waits until everything handed in so far is committed. Throws the
   * {@link IndexDamagedError} when committing stopped on a damaged index (the records stay uncommitted), or the
   * state cache error that stopped it.
   */
  async flush(): Promise<void> {
    this.#closeBatch();
    await this.#chain;
    if (this.#halted) throw this.#halted;
  }

  #closeBatch(): void {
    this.#o.context.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    const previous = this.#chain;
    this.#chain = this.#o.context.work.run(() => previous.then(() => this.#commit(batch)));
  }

  async #commit(batch: Pending[]): Promise<void> {
    if (this.#halted) {
      this.#held.push(...batch);
      return;
    }
    const records = batch.map((p) => p.record);
    const identity = new Map<string, LocalIdentity>();
    for (const p of batch) if (p.identity && p.record.op === "put") identity.set(p.record.path, p.identity);
    let committed: { seq: number; key: string };
    try {
      committed = await this.#commitRecords(records, identity, []);
    } catch (err) {
      this.#held.push(...batch);
      this.#halt(err);
      return;
    }
    this.stats.batches++;
    this.stats.records += records.length;
    this.stats.lastCommitAt = this.#o.context.clock.now();
    this.#log.debug(`committed batch ${committed.seq} (${records.length} records) as ${committed.key}`);
    for (const p of batch) p.resolve();
    await this.#o.context.hooks.commit.promise({ sequence: committed.seq, key: committed.key, records }).catch((err) => {
      this.#log.error("a commit observer failed", err);
    });
    const since = this.#o.cache.recordsSinceCheckpoint;
    if (since >= this.#o.checkpointEvery && since >= this.#checkpointDeferredUntil) await this.checkpoint();
  }

  #halt(err: unknown): void {
    const error = err instanceof Error ? err : new Error(messageOf(err));
    this.#halted = error;
    if (err instanceof IndexDamagedError) {
      this.#log.error(`the remote index is damaged; committing stopped (nothing is written on top of it): ${error.message}`);
    } else this.#log.error(`committing stopped: ${error.message}`);
    this.#o.onHalt?.(error);
  }

  /** Retries `fn` with backoff until it succeeds; a damaged index is never retried. */
  async #retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof IndexDamagedError) throw err;
        this.stats.retries++;
        const wait = backoffDelay(attempt, this.#o.backoff.baseMs, this.#o.backoff.maxMs);
        this.#log.error(`${what} failed (attempt ${attempt}); retrying in ${wait} ms`, err);
        await sleep(this.#o.context.clock, wait);
      }
    }
  }

  /** Applies what other writers committed since the cache's last batch, after checking that batch is still there. */
  async #catchUp(own: ReadonlySet<string>): Promise<void> {
    const last = this.#o.cache.lastSequence;
    const journal = await readJournal(this.#o.repository, { after: last, expect: last, verifyExpected: true, skipRead: own });
    for (const b of journal.batches) this.#lastTime = Math.max(this.#lastTime, b.name.time);
    const applied = await applyJournal(this.#o.cache, journal, own);
    if (applied) this.#log.info(`applied ${applied} index batch(es) written by another writer`);
  }

  /** The batch objects stored under sequence number `seq`. */
  async #batchesAt(seq: number): Promise<IndexObjectName[]> {
    const out: IndexObjectName[] = [];
    for await (const name of this.#o.repository.listBatches(seq)) {
      if (name.seq !== seq) break;
      out.push(name);
    }
    return out;
  }

  /**
   * Writes records as the next batch and confirms it: after writing, the store is listed for its sequence number;
   * when another writer used the same number, the records are written again above everything listed, naming the
   * earlier keys in `replaces`, until a batch is the only one with its number. The batch in flight is kept in the
   * state cache so that a crash resumes it ({@link resume}).
   */
  async #commitRecords(records: IndexRecord[], identity: ReadonlyMap<string, LocalIdentity>, replaces: string[]): Promise<{ seq: number; key: string }> {
    const { repository, cache } = this.#o;
    for (;;) {
      await this.#retrying("reading the index before a commit", () => this.#catchUp(new Set(replaces)));
      const seq = cache.lastSequence + 1;
      const time = Math.max(this.#o.context.clock.now(), this.#lastTime);
      const batch = repository.encodeBatch(seq, time, records, replaces);
      await cache.setInflight({ seq, time, key: batch.key, records, replaces });
      await this.#retrying(`writing index batch ${seq}`, () => repository.putBatch(batch));
      this.#lastTime = time;
      const same = await this.#retrying(`listing index batch ${seq}`, () => this.#batchesAt(seq));
      if (same.length === 1 && same[0]!.key === batch.key) {
        const provisional = cache.provisional;
        // A rewrite of a batch this cache already applied (it was found at the next start) is not applied twice.
        const already = replaces.some((k) => provisional.includes(k));
        if (already) await cache.setProvisional(provisional.filter((k) => !replaces.includes(k)));
        await cache.addChunks(records.flatMap((r) => (r.op === "put" ? r.chunks : [])));
        await cache.applyBatch(seq, already ? [] : records, identity, { chunksStored: true, clearInflight: true });
        return { seq, key: batch.key };
      }
      this.stats.conflicts++;
      const others = same.filter((n) => n.key !== batch.key).map((n) => n.key);
      this.#log.warn(
        `index batch ${seq} was also written by another writer (${others.join(", ") || "ours is not listed"}); writing its ${records.length} record(s) again under a higher number`,
      );
      replaces = [...replaces, batch.key];
      // Two writers that collided list the same state; a random pause keeps them from colliding again.
      await sleep(this.#o.context.clock, 20 + Math.floor(Math.random() * 200));
    }
  }

  /**
   * Completes the batch a previous run left in flight: done when it is the only batch with its number, written
   * again (as a rewrite) when it shares the number, written anew when it never reached the store.
   */
  async resume(): Promise<void> {
    const inflight = this.#o.cache.inflight;
    if (!inflight) return;
    const same = await this.#batchesAt(inflight.seq);
    const present = same.some((n) => n.key === inflight.key);
    if (present && same.length === 1) {
      await this.#o.cache.setInflight(undefined);
      return;
    }
    this.#log.info(`completing index batch ${inflight.seq} (${inflight.records.length} records) left in flight by the previous run`);
    const replaces = [...inflight.replaces];
    if (present) {
      replaces.push(inflight.key);
      // The start-up sync applied it like any other batch; its rewrite must not be applied again.
      const provisional = this.#o.cache.provisional;
      if (!provisional.includes(inflight.key)) await this.#o.cache.setProvisional([...provisional, inflight.key]);
    }
    const { seq, key } = await this.#commitRecords(inflight.records, new Map(), replaces);
    this.#log.info(`committed the records of the interrupted batch as ${seq} (${key})`);
  }

  /** Writes a checkpoint of the whole state as of the last committed batch (retried on failure). */
  async checkpoint(): Promise<void> {
    const seq = this.#o.cache.lastSequence;
    if (this.#halted || seq < 0 || seq === this.#o.cache.lastCheckpointSequence) return;
    if (!(await this.#mayCheckpoint(seq))) return;
    for (let attempt = 1; attempt <= 5; attempt++) {
      try {
        const key = await this.#o.repository.writeCheckpoint(seq, this.#lastTime, this.#o.cache.entries(), this.#o.cache.size);
        await this.#o.cache.markCheckpoint(seq);
        this.stats.checkpoints++;
        this.#log.info(`wrote checkpoint ${key} (${this.#o.cache.size} entries)`);
        return;
      } catch (err) {
        this.#log.error(`writing checkpoint at batch ${seq} failed (attempt ${attempt})`, err);
        await sleep(this.#o.context.clock, backoffDelay(attempt, this.#o.backoff.baseMs, this.#o.backoff.maxMs));
      }
    }
    // A missing checkpoint only makes restores read more batches; the next commit tries again.
  }

  /**
   * Re-checks the store before a checkpoint: none is written when one already covers `seq`, when a batch up to `seq`
   * still shares its number with another writer's (the cache may lack those records until they are rewritten), or
   * when the index is damaged (which halts the committer).
   */
  async #mayCheckpoint(seq: number): Promise<boolean> {
    try {
      const newest = (await this.#o.repository.listCheckpoints()).at(-1);
      if (newest && newest.seq >= seq) return false;
      const journal = await readJournal(this.#o.repository, { after: newest?.seq ?? -1, expect: seq });
      const open = journal.unresolved.filter((s) => s <= seq);
      if (open.length === 0) return true;
      this.#log.warn(`no checkpoint at batch ${seq} yet: batches ${open.join(", ")} are shared by several writers and not yet rewritten`);
      this.#checkpointDeferredUntil = this.#o.cache.recordsSinceCheckpoint + this.#o.checkpointEvery;
      return false;
    } catch (err) {
      if (err instanceof IndexDamagedError) this.#halt(err);
      else this.#log.error(`checking the index before a checkpoint at batch ${seq} failed`, err);
      return false;
    }
  }
}
