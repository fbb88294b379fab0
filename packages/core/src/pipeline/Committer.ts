import { IndexDamagedError } from "../errors.js";
import type { IndexObjectName } from "../repository/format.js";
import { readJournal } from "../repository/journal.js";
import { applyJournal } from "../repository/syncState.js";
import type { Repository } from "../repository/Repository.js";
import type { LocalIdentity } from "../state/StateCache.js";
import type { IndexRecord } from "../types.js";
import { sleep } from "../clock.js";
import { backoffDelay } from "./retry.js";
import { BatchCommitter, type CommitterOptions } from "./BatchCommitter.js";

/** Options of {@link Committer}. */
export interface V1CommitterOptions extends CommitterOptions {
  repository: Repository;
}

/**
 * Stage 7 on a v1 repository: writes each batch, confirms it is the only batch with its sequence number (or writes
 * it again above another writer's), then updates the state cache; checkpoints periodically. Before each commit it
 * checks the index it builds on; a damaged index halts it (never a commit on top). Content named by a record is
 * always stored before the record is handed here (the upload stage awaits its chunks first).
 */
export class Committer extends BatchCommitter {
  readonly #repository: Repository;

  constructor(options: V1CommitterOptions) {
    super(options);
    this.#repository = options.repository;
  }

  protected write(records: IndexRecord[], identity: ReadonlyMap<string, LocalIdentity>): Promise<{ seq: number; key: string }> {
    return this.#commitRecords(records, identity, []);
  }

  /** Applies what other writers committed since the cache's last batch, after checking that batch is still there. */
  async #catchUp(own: ReadonlySet<string>): Promise<void> {
    const last = this.o.cache.lastSequence;
    const journal = await readJournal(this.#repository, { after: last, expect: last, verifyExpected: true, skipRead: own });
    for (const b of journal.batches) this.lastTime = Math.max(this.lastTime, b.name.time);
    const applied = await applyJournal(this.o.cache, journal, own);
    if (applied) this.log.info(`applied ${applied} index batch(es) written by another writer`);
  }

  /** The batch objects stored under sequence number `seq`. */
  async #batchesAt(seq: number): Promise<IndexObjectName[]> {
    const out: IndexObjectName[] = [];
    for await (const name of this.#repository.listBatches(seq)) {
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
    const { cache } = this.o;
    const repository = this.#repository;
    for (;;) {
      await this.retrying("reading the index before a commit", () => this.#catchUp(new Set(replaces)));
      const seq = cache.lastSequence + 1;
      const time = Math.max(this.o.context.clock.now(), this.lastTime);
      const batch = repository.encodeBatch(seq, time, records, replaces);
      await cache.setInflight({ seq, time, key: batch.key, records, replaces });
      await this.retrying(`writing index batch ${seq}`, () => repository.putBatch(batch));
      this.lastTime = time;
      const same = await this.retrying(`listing index batch ${seq}`, () => this.#batchesAt(seq));
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
      this.log.warn(
        `index batch ${seq} was also written by another writer (${others.join(", ") || "ours is not listed"}); writing its ${records.length} record(s) again under a higher number`,
      );
      replaces = [...replaces, batch.key];
      // Two writers that collided list the same state; a random pause keeps them from colliding again.
      await sleep(this.o.context.clock, 20 + Math.floor(Math.random() * 200));
    }
  }

  /**
   * Completes the batch a previous run left in flight: done when it is the only batch with its number, written
   * again (as a rewrite) when it shares the number, written anew when it never reached the store.
   */
  async resume(): Promise<void> {
    const inflight = this.o.cache.inflight;
    if (!inflight) return;
    const same = await this.#batchesAt(inflight.seq);
    const present = same.some((n) => n.key === inflight.key);
    if (present && same.length === 1) {
      await this.o.cache.setInflight(undefined);
      return;
    }
    this.log.info(`completing index batch ${inflight.seq} (${inflight.records.length} records) left in flight by the previous run`);
    const replaces = [...inflight.replaces];
    if (present) {
      replaces.push(inflight.key);
      // The start-up sync applied it like any other batch; its rewrite must not be applied again.
      const provisional = this.o.cache.provisional;
      if (!provisional.includes(inflight.key)) await this.o.cache.setProvisional([...provisional, inflight.key]);
    }
    const { seq, key } = await this.#commitRecords(inflight.records, new Map(), replaces);
    this.log.info(`committed the records of the interrupted batch as ${seq} (${key})`);
  }

  /** Writes a checkpoint of the whole state as of the last committed batch (retried on failure). */
  async checkpoint(): Promise<void> {
    const seq = this.o.cache.lastSequence;
    if (this.halted || seq < 0 || seq === this.o.cache.lastCheckpointSequence) return;
    if (!(await this.#mayCheckpoint(seq))) return;
    for (let attempt = 1; attempt <= 5; attempt++) {
      try {
        const key = await this.#repository.writeCheckpoint(seq, this.lastTime, this.o.cache.entries(), this.o.cache.size);
        await this.o.cache.markCheckpoint(seq);
        this.stats.checkpoints++;
        this.log.info(`wrote checkpoint ${key} (${this.o.cache.size} entries)`);
        return;
      } catch (err) {
        this.log.error(`writing checkpoint at batch ${seq} failed (attempt ${attempt})`, err);
        await sleep(this.o.context.clock, backoffDelay(attempt, this.o.backoff.baseMs, this.o.backoff.maxMs));
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
      const newest = (await this.#repository.listCheckpoints()).at(-1);
      if (newest && newest.seq >= seq) return false;
      const journal = await readJournal(this.#repository, { after: newest?.seq ?? -1, expect: seq });
      const open = journal.unresolved.filter((s) => s <= seq);
      if (open.length === 0) return true;
      this.log.warn(`no checkpoint at batch ${seq} yet: batches ${open.join(", ")} are shared by several writers and not yet rewritten`);
      this.checkpointDeferredUntil = this.o.cache.recordsSinceCheckpoint + this.o.checkpointEvery;
      return false;
    } catch (err) {
      if (err instanceof IndexDamagedError) this.halt(err);
      else this.log.error(`checking the index before a checkpoint at batch ${seq} failed`, err);
      return false;
    }
  }
}
