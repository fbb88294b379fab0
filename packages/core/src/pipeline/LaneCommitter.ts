import { BackupError, IndexDamagedError, messageOf } from "../errors.js";
import { sleep } from "../clock.js";
import type { LaneState, LocalIdentity } from "../state/StateCache.js";
import type { IndexRecord } from "../types.js";
import { parseLaneBatchKey } from "../repository/v2/lanes.js";
import { packKey } from "../repository/v2/PackStore.js";
import { mergeTreeV2 } from "../repository/v2/readTreeV2.js";
import { brokenEntries } from "../repository/v2/treeSink.js";
import { TreeSpill } from "../repository/v2/treeSpill.js";
import type { LaneWriter, RepositoryV2 } from "../repository/v2/RepositoryV2.js";
import { BatchCommitter, type CommitterOptions } from "./BatchCommitter.js";
import { backoffDelay } from "./retry.js";

export type { IndexCommitter } from "./BatchCommitter.js";

/** Options of {@link LaneCommitter}. */
export interface LaneCommitterOptions extends CommitterOptions {
  repository: RepositoryV2;
}

/**
 * Stage 7 on a v2 repository (docs/format-v2.md "Lanes"): this writer's own lane, so a commit is one put that no
 * other writer can collide with. Each batch flushes the open pack first (so every blob a record names is stored and
 * durable before the batch is), is recorded in the state cache before it is stored (a crash stores the same bytes
 * again, {@link resume}), and is applied to the cache once stored. Checkpoints are written from the merged tree of
 * every lane, so any reader can start from them.
 */
export class LaneCommitter extends BatchCommitter {
  readonly #repo: RepositoryV2;
  #writer: LaneWriter | undefined;

  // The tree is read from the store, so the checkpoint covers the batches it read, whatever is committed meanwhile.
  protected override readonly checkpointBesideCommits = true;
  #seenBase: string | undefined;
  #basesCheckedAt: number;

  constructor(options: LaneCommitterOptions) {
    super(options);
    this.#repo = options.repository;
    this.#seenBase = options.cache.knownBase;
    this.#basesCheckedAt = options.context.clock.now();
  }

  /** The writer of this cache's lane (as the start-up sync left it). */
  get #lane(): LaneWriter {
    if (!this.#writer) {
      const state = this.#state();
      const last = state.last ? parseLaneBatchKey(state.last.key) : undefined;
      this.#writer = this.#repo.lane(state.lane, last);
    }
    return this.#writer;
  }

  #state(): LaneState {
    const state = this.o.cache.lane;
    if (!state) throw new BackupError("STATE_CACHE", "the state cache has no lane of this v2 repository (it was not synced)");
    return state;
  }

  /**
   * Looks for a base newer than the one this run knows, every PruneCheckInterval: when a prune wrote one, the chunks
   * recorded as stored are forgotten (what the prune may delete is never named again without being uploaded again;
   * docs/history.md "Prune"). The tree is read again from the base at the next start.
   */
  #noticeBases(): Promise<void> {
    const now = this.o.context.clock.now();
    if (now - this.#basesCheckedAt < this.o.context.parameters.pruneCheckInterval) return Promise.resolve();
    // One look at a time: uploads that start meanwhile wait for it.
    this.#noticing ??= this.#lookForBase(now).finally(() => (this.#noticing = undefined));
    return this.#noticing;
  }

  #noticing: Promise<void> | undefined;

  /** Before a file is read and deduplicated: a prune's new base is noticed first. */
  beforeUpload(): Promise<void> {
    return this.#noticeBases();
  }

  async #lookForBase(now: number): Promise<void> {
    try {
      const newest = (await this.#repo.bases()).at(-1)?.key;
      this.#basesCheckedAt = now;
      if (newest === this.#seenBase) return;
      await this.o.cache.forgetChunks();
      this.#seenBase = newest;
      this.log.info(`a prune wrote ${newest ?? "no base"}: content stored before it is uploaded again when met, never deduplicated against`);
    } catch (err) {
      this.log.warn(`could not list the bases a prune writes (tried again before the next upload or commit): ${messageOf(err)}`);
    }
  }

  protected async write(records: IndexRecord[], identity: ReadonlyMap<string, LocalIdentity>): Promise<{ seq: number; key: string }> {
    await this.#noticeBases();
    const cache = this.o.cache;
    const { name, blobs } = await this.retrying("writing a lane batch", () =>
      this.#lane.commit(records, {
        time: Math.max(this.o.context.clock.now(), this.lastTime),
        prepared: async ({ name, body, blobs }) => {
          const inflight = { key: name.key, body, seq: name.seq, records, blobs: blobs.map((b) => b.id), packs: [...new Set(blobs.map((b) => b.pack))] };
          await cache.setLane({ ...this.#state(), inflight });
        },
      }),
    );
    this.lastTime = name.time;
    await this.#applied(
      name,
      records,
      blobs.map((b) => b.id),
      identity,
    );
    return { seq: name.seq, key: name.key };
  }

  /** Applies a stored batch of this lane to the cache: its records, its blobs as stored, and the lane's position. */
  async #applied(
    name: { key: string; seq: number; time: number; digest: string },
    records: readonly IndexRecord[],
    blobs: readonly string[],
    identity?: ReadonlyMap<string, LocalIdentity>,
  ) {
    const state = this.#state();
    const lane: LaneState = {
      lane: state.lane,
      last: { key: name.key, seq: name.seq, time: name.time, digest: name.digest },
      applied: { ...state.applied, [state.lane]: name.seq },
    };
    await this.o.cache.applyBatch(name.seq, records, identity, { chunksStored: true, lane, chunks: blobs });
  }

  /**
   * Stores again the batch a previous run encoded and did not see stored (the start-up sync applied it when it
   * was listed): the same bytes under the same key, which only this writer writes.
   */
  async resume(): Promise<void> {
    const state = this.#state();
    const inflight = state.inflight;
    if (!inflight) return;
    const name = parseLaneBatchKey(inflight.key);
    if (!name || name.lane !== state.lane) throw new BackupError("STATE_CACHE", `the batch left in flight (${inflight.key}) is not of this lane`);
    // A pack this batch names that is gone was deleted by a prune while no batch named it (this agent was down for
    // longer than a grace period): the batch is dropped, not stored, and the scan at start reads its files again.
    const gone = [];
    for (const pack of inflight.packs ?? [])
      if (!(await this.retrying("looking for a pack", () => this.#repo.storage.head(this.#repo.prefix + packKey(pack))))) gone.push(pack);
    if (gone.length > 0) {
      this.log.warn(
        `index batch ${name.seq} left in flight names ${gone.length} pack(s) no longer stored (${gone.join(", ")}): it is dropped, and its ${inflight.records.length} record(s) are made again from the files`,
      );
      const { inflight: _dropped, ...rest } = state;
      await this.o.cache.setLane(rest);
      return;
    }
    this.log.info(`storing index batch ${name.seq} (${inflight.records.length} records) left in flight by the previous run`);
    const writer = this.#lane;
    await this.retrying(`storing lane batch ${name.seq}`, () => writer.restore(name, inflight.body));
    await this.#applied(name, inflight.records, inflight.blobs);
    this.lastTime = Math.max(this.lastTime, name.time);
  }

  /**
   * Writes a checkpoint of the merged tree of every lane as far as it reads cleanly (none when a lane is damaged:
   * readers then read the batches, which is slower, never wrong). The tree is merged into a scratch store beside the
   * state cache and written from there a piece at a time, so a checkpoint of a million files takes little memory.
   */
  async checkpoint(): Promise<void> {
    const counted = this.o.cache.recordsSinceCheckpoint;
    if (this.halted || counted === 0) return;
    // A writer key reads no lane and cannot merge them, so it writes none: readers read the batches (slower, never wrong).
    if (!this.#repo.cipher.canRead) return;
    for (let attempt = 1; attempt <= 5; attempt++) {
      const tree = TreeSpill.open(this.o.cache.directory);
      try {
        const merged = await mergeTreeV2(this.#repo, tree);
        const problems = [...merged.damage, ...brokenEntries(tree)];
        if (problems.length > 0) {
          this.log.warn(`no checkpoint: the index has damage (${problems.map((d) => d.message).join("; ")})`);
          this.checkpointDeferredUntil = this.o.cache.recordsSinceCheckpoint + this.o.checkpointEvery;
          return;
        }
        const source = tree.source();
        const name = await this.#repo.writeCheckpoint(this.#state().lane, source, { lanes: merged.covered, time: merged.time });
        await this.o.cache.markCheckpoint(merged.covered[this.#state().lane] ?? this.o.cache.lastSequence, counted);
        this.stats.checkpoints++;
        this.log.info(`wrote checkpoint ${name.key} (${source.entryCount} entries, ${source.blobCount} blobs)`);
        return;
      } catch (err) {
        if (err instanceof IndexDamagedError) return this.halt(err);
        this.log.error(`writing a checkpoint failed (attempt ${attempt})`, err);
      } finally {
        await tree.close();
      }
      await sleep(this.o.context.clock, backoffDelay(attempt, this.o.backoff.baseMs, this.o.backoff.maxMs));
    }
  }
}
