import { mkdir } from "node:fs/promises";
import { isUnder } from "../mounts/mountPaths.js";
import { isNoOpMove } from "../repository/format.js";
import { join } from "node:path";
import { open, type Database, type RootDatabase } from "lmdb";
import { BackupError } from "../errors.js";
import { moveAsideIfDamaged } from "../io/lmdbFile.js";
import type { FileEntry, IndexRecord } from "../types.js";
import { decode, encode, HASHED, identityOf, isHashedPath, keyOf, rangeUnder, type CachedEntry, type DiskIdentity, type StoredEntry } from "./storedEntry.js";

export type { CachedEntry, DiskIdentity } from "./storedEntry.js";

/** One tracked name in a directory ({@link StateCache.childrenOf}); `identity` undefined when only paths under it are tracked. */
export interface CachedChild {
  readonly identity: DiskIdentity | undefined;
  descendants: boolean;
}

/** A batch written but not yet confirmed as the only one with its sequence number. */
export interface InflightBatch {
  seq: number;
  time: number;
  key: string;
  records: IndexRecord[];
  /** Earlier keys of the same records (rewrites). */
  replaces: string[];
}

/**
 * Where a format v2 writer stands (docs/format-v2.md "Lanes"): its own lane, its last stored batch, the last batch of
 * every lane the cache has applied, and the batch it is storing (so that a crash stores that same object again).
 */
export interface LaneState {
  lane: string;
  last: { key: string; seq: number; time: number; digest: string } | undefined;
  /** Lane id → the last batch of it applied here. */
  applied: Record<string, number>;
  /** `packs`: the packs its blob lines name (a prune may delete one that no batch named; then it is not stored again). */
  inflight?: { key: string; body: Uint8Array; seq: number; records: IndexRecord[]; blobs: string[]; packs?: string[] } | undefined;
}

/** Local identity of a file at upload time, recorded beside its index entry. */
export interface LocalIdentity {
  ctimeMs: number;
  ino: number;
}

/**
 * The local state cache: path → size, mtime, ctime, inode, content ids, plus the set of stored chunk ids and the
 * index position it reflects. LMDB (memory-mapped B-tree, `lmdb` package): lookups are synchronous and cheap, the
 * data lives in the page cache rather than the JS heap, so a million entries cost little resident memory. It is
 * only ever a cache: {@link StateCache.rebuild} recreates it from the remote index.
 */
export class StateCache {
  readonly #root: RootDatabase;
  readonly #files: Database<StoredEntry, string>;
  readonly #chunks: Database<number, string>;
  readonly #meta: Database<unknown, string>;

  /** Why the cache file found was moved aside and a new one begun (rebuilt from the index), if it was. */
  readonly discarded: string | undefined;
  /** The directory the cache is in (this agent's own: scratch stores of its checkpoints go there too). */
  readonly directory: string;
  private constructor(root: RootDatabase, directory: string, discarded?: string) {
    this.#root = root;
    this.directory = directory;
    this.discarded = discarded;
    this.#files = root.openDB<StoredEntry, string>({ name: "files", encoding: "msgpack" });
    this.#chunks = root.openDB<number, string>({ name: "chunks", encoding: "msgpack" });
    this.#meta = root.openDB<unknown, string>({ name: "meta", encoding: "msgpack" });
  }

  /**
   * Opens (creating) the cache in `directory`. A file that is not LMDB's (damaged: opening it could crash the process)
   * is moved aside to `state.mdb.damaged-<time>`, and an empty cache is begun, which start-up rebuilds from the index.
   */
  static async open(directory: string): Promise<StateCache> {
    await mkdir(directory, { recursive: true });
    const file = join(directory, "state.mdb");
    const aside = await moveAsideIfDamaged(file);
    try {
      const root = open({ path: file, maxDbs: 8, compression: false, mapSize: 2 ** 34 });
      return new StateCache(root, directory, aside && `${aside}; the state cache is rebuilt from the index`);
    } catch (err) {
      throw new BackupError("STATE_CACHE", `cannot open state cache in ${directory}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Id of the repository this cache reflects, or undefined when new. */
  get repositoryId(): string | undefined {
    return this.#meta.get("repositoryId") as string | undefined;
  }

  /** The last index batch applied (-1 when none). */
  get lastSequence(): number {
    return (this.#meta.get("lastSeq") as number | undefined) ?? -1;
  }

  /** The last batch covered by a checkpoint (-1 when none). */
  get lastCheckpointSequence(): number {
    return (this.#meta.get("lastCheckpointSeq") as number | undefined) ?? -1;
  }

  /** Records applied since the last checkpoint. */
  get recordsSinceCheckpoint(): number {
    return (this.#meta.get("sinceCheckpoint") as number | undefined) ?? 0;
  }

  /** Number of paths tracked. */
  get size(): number {
    // The database's own count (mdb_stat): getCount() steps a cursor over every key, 58 ms at a million, and the
    // committer asks after every batch.
    return (this.#files.getStats() as { entryCount: number }).entryCount;
  }

  /** The cached entry of a path. */
  get(path: string): CachedEntry | undefined {
    const key = keyOf(path);
    const v = this.#files.get(key);
    return v ? decode(key, v) : undefined;
  }

  /**
   * Whether a chunk is known to be stored: this agent stored it, or a listing of the store showed it. A chunk that is
   * merely named by an index record is not trusted (its object may have been deleted behind the agent's back).
   */
  hasChunk(id: string): boolean {
    return this.#chunks.doesExist(id);
  }

  /** Marks chunks as stored (after their put succeeded). */
  async addChunks(ids: Iterable<string>): Promise<void> {
    await this.#root.transaction(() => {
      for (const id of ids) this.#chunks.put(id, 1);
    });
  }

  /**
   * Records damage found in the store (`rtb check --repair`): the chunks are no longer believed stored, and the
   * local identity (ctime, inode) of the paths is cleared, so the next scan reads those files again and uploads every
   * chunk not believed stored. Returns how many chunk ids and paths it changed.
   */
  async markDamaged(chunkIds: Iterable<string>, paths: Iterable<string>): Promise<{ chunks: number; paths: number }> {
    const changed = { chunks: 0, paths: 0 };
    await this.#root.transaction(() => {
      for (const id of chunkIds) {
        if (!this.#chunks.doesExist(id)) continue;
        this.#chunks.remove(id);
        changed.chunks++;
      }
      for (const path of paths) {
        const entry = this.get(path);
        if (!entry || (entry.ctimeMs === 0 && entry.ino === 0)) continue;
        this.#files.put(keyOf(path), encode({ ...entry, ctimeMs: 0, ino: 0 }));
        changed.paths++;
      }
    });
    return changed;
  }

  /** Replaces the local identity (ctime, inode) of tracked paths; the index entries stay as they are. */
  async setIdentities(identities: Iterable<readonly [string, LocalIdentity]>): Promise<void> {
    await this.#root.transaction(() => {
      for (const [path, id] of identities) {
        const entry = this.get(path);
        if (entry) this.#files.put(keyOf(path), encode({ ...entry, ctimeMs: id.ctimeMs, ino: id.ino }));
      }
    });
  }

  /** Every tracked entry, in key order. */
  *entries(): Iterable<CachedEntry> {
    for (const { key, value } of this.#files.getRange({})) yield decode(key, value);
  }

  /** What a scan compares with a path's lstat: the cached entry's type, size, times, inode, mode and owner. */
  identity(path: string): DiskIdentity | undefined {
    const v = this.#files.get(keyOf(path));
    return v ? identityOf(v) : undefined;
  }

  /**
   * The tracked paths directly in `dir` whose keys are their paths (not {@link hashedEntries}), by name: each with its
   * {@link identity} and whether anything under it is tracked too. One range read of the directory: after a child's
   * first descendant it seeks past the child's subtree.
   */
  childrenOf(dir: string): Map<string, CachedChild> {
    const prefix = dir === "/" ? "/" : `${dir}/`;
    const children = new Map<string, CachedChild>();
    const range = rangeUnder(prefix);
    // Under a path that is not UTF-8 or too long, every key is a hash: nothing here.
    if (!range) return children;
    const end = range.end;
    let start = prefix;
    for (;;) {
      let next: string | undefined;
      for (const { key, value } of this.#files.getRange({ start, end })) {
        if (key === dir) continue;
        const slash = key.indexOf("/", prefix.length);
        if (slash < 0) {
          const name = key.slice(prefix.length);
          children.set(name, { identity: identityOf(value), descendants: false });
          continue;
        }
        // Its own key may be far back: "a", "a-b", "a-b/…", "a.x", "a/…" is key order.
        const name = key.slice(prefix.length, slash);
        const known = children.get(name);
        if (known) known.descendants = true;
        else children.set(name, { identity: undefined, descendants: true });
        // Keys under `name/` sort before `name0` ('0' follows '/'), and nothing between them is a child.
        next = `${prefix}${name}0`;
        break;
      }
      if (next === undefined) return children;
      start = next;
    }
  }

  /** Whether the cache keys `path` by a hash of it (a path that is not UTF-8, or too long): see {@link hashedEntries}. */
  static isHashed(path: string): boolean {
    return isHashedPath(path);
  }

  /** The tracked entries keyed by a hash of their path, which {@link childrenOf} does not list. */
  *hashedEntries(): Iterable<CachedEntry> {
    for (const { key, value } of this.#files.getRange({ ...HASHED })) yield decode(key, value);
  }

  /** Entries at or under `dir`; `hashed: false` leaves out those keyed by a hash (one read of all of them less). */
  *entriesUnder(dir: string, options: { hashed?: boolean } = {}): Iterable<CachedEntry> {
    const self = this.get(dir);
    if (self) yield self;
    const range = rangeUnder(dir === "/" ? "/" : `${dir}/`);
    // Under a path that is not UTF-8 or too long every key is a hash (and the range's bounds could not be keys).
    if (range) for (const { key, value } of this.#files.getRange(range)) if (key !== dir) yield decode(key, value);
    if (options.hashed === false) return;
    for (const { key, value } of this.#files.getRange({ ...HASHED })) {
      const entry = decode(key, value);
      if (isUnder(entry.path, dir)) yield entry;
    }
  }

  #apply(record: IndexRecord, identity: ReadonlyMap<string, LocalIdentity> | undefined, chunksStored: boolean): void {
    switch (record.op) {
      case "put": {
        const { op: _op, ...entry } = record;
        if (chunksStored) for (const chunk of entry.chunks) this.#chunks.put(chunk, 1);
        const id = identity?.get(entry.path);
        this.#files.put(keyOf(entry.path), encode({ ...entry, ctimeMs: id?.ctimeMs ?? 0, ino: id?.ino ?? 0 }));
        return;
      }
      case "delete":
        for (const e of [...this.entriesUnder(record.path)]) this.#files.remove(keyOf(e.path));
        return;
      case "move": {
        if (isNoOpMove(record.from, record.to)) return;
        const moved = [...this.entriesUnder(record.from)];
        for (const e of [...this.entriesUnder(record.to)]) this.#files.remove(keyOf(e.path));
        for (const e of moved) this.#files.remove(keyOf(e.path));
        for (const e of moved) {
          const path = record.to + e.path.slice(record.from.length);
          this.#files.put(keyOf(path), encode({ ...e, path }));
        }
        return;
      }
    }
  }

  /**
   * Applies a committed batch atomically and records its sequence number. `identity` carries ctime/inode of the
   * files just uploaded (they are not part of the index). `chunksStored` (only for batches this agent wrote, whose
   * chunks it stored or already knew) marks the records' chunks as stored; `inflight` clears the pending batch.
   */
  async applyBatch(
    seq: number,
    records: readonly IndexRecord[],
    identity?: ReadonlyMap<string, LocalIdentity>,
    options: { chunksStored?: boolean; clearInflight?: boolean; lane?: LaneState; chunks?: readonly string[] } = {},
  ): Promise<void> {
    await this.#root.transaction(() => {
      for (const id of options.chunks ?? []) this.#chunks.put(id, 1);
      for (const r of records) this.#apply(r, identity, options.chunksStored === true);
      if (options.clearInflight) this.#meta.remove("inflight");
      // A v2 batch moves its lane's position (sequence numbers are per lane there, not one journal's).
      if (options.lane) this.#meta.put("lane", options.lane);
      else this.#meta.put("lastSeq", Math.max(seq, this.lastSequence));
      this.#meta.put("sinceCheckpoint", this.recordsSinceCheckpoint + records.length);
    });
  }

  /** The batch this agent is writing and has not yet confirmed as its own (see docs/format.md "Several writers"). */
  get inflight(): InflightBatch | undefined {
    return this.#meta.get("inflight") as InflightBatch | undefined;
  }

  /** Records the batch about to be written, so a crash before it is confirmed resumes it at the next start. */
  async setInflight(batch: InflightBatch | undefined): Promise<void> {
    if (batch) await this.#meta.put("inflight", batch);
    else await this.#meta.remove("inflight");
  }

  /** A format v2 writer's position ({@link LaneState}); undefined for a v1 cache or a new one. */
  get lane(): LaneState | undefined {
    return this.#meta.get("lane") as LaneState | undefined;
  }

  /** Replaces the v2 writer's position. */
  async setLane(state: LaneState): Promise<void> {
    await this.#meta.put("lane", state);
  }

  /** The newest base (a prune's, docs/history.md) this cache has taken into account; undefined before any. */
  get knownBase(): string | undefined {
    return this.#meta.get("base") as string | undefined;
  }

  /**
   * Takes base `key` into account: every chunk recorded as stored is forgotten first (a prune may delete what no
   * kept version needs, so nothing is deduplicated against what was stored before it; it is uploaded again instead).
   */
  async noticeBase(key: string | undefined): Promise<void> {
    await this.forgetChunks();
    if (key === undefined) await this.#meta.remove("base");
    else await this.#meta.put("base", key);
  }

  /** Forgets every chunk recorded as stored: each is uploaded again when met (see {@link noticeBase}). */
  async forgetChunks(): Promise<void> {
    await this.#chunks.clearAsync();
  }

  /** Keys of batches applied while another batch shared their sequence number (their writer may rewrite them). */
  get provisional(): string[] {
    return (this.#meta.get("provisional") as string[] | undefined) ?? [];
  }

  /** Replaces the set of {@link provisional} keys. */
  async setProvisional(keys: readonly string[]): Promise<void> {
    await this.#meta.put("provisional", [...keys]);
  }

  /**
   * Notes that a checkpoint now covers everything up to `seq`. `counted` is how many records the count since the last
   * checkpoint held when this one began (a checkpoint written beside commits covers none that came after): those
   * are taken off, the rest still count. Without it, the count starts again from 0.
   */
  async markCheckpoint(seq: number, counted?: number): Promise<void> {
    await this.#root.transaction(() => {
      this.#meta.put("lastCheckpointSeq", seq);
      this.#meta.put("sinceCheckpoint", counted === undefined ? 0 : Math.max(0, this.recordsSinceCheckpoint - counted));
    });
  }

  /** Empties the cache and binds it to a repository. */
  async reset(repositoryId: string): Promise<void> {
    await this.#files.clearAsync();
    await this.#chunks.clearAsync();
    await this.#meta.clearAsync();
    await this.#meta.put("repositoryId", repositoryId);
  }

  /** Replaces all entries with those given (used by rebuilds from a checkpoint). */
  async loadEntries(entries: AsyncIterable<FileEntry>, seq: number): Promise<void> {
    let batch: FileEntry[] = [];
    const flush = async () => {
      const b = batch;
      batch = [];
      await this.#root.transaction(() => {
        for (const e of b) this.#files.put(keyOf(e.path), encode({ ...e, ctimeMs: 0, ino: 0 }));
      });
    };
    for await (const e of entries) {
      batch.push(e);
      if (batch.length >= 10_000) await flush();
    }
    await flush();
    await this.#root.transaction(() => {
      this.#meta.put("lastSeq", seq);
      this.#meta.put("lastCheckpointSeq", seq);
      this.#meta.put("sinceCheckpoint", 0);
    });
  }

  /** Closes the database. */
  async close(): Promise<void> {
    await this.#root.close();
  }
}
