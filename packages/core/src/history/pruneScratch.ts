import { randomBytes } from "node:crypto";
import { chmodSync, lstatSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { open, type Database, type RootDatabase } from "lmdb";
import type { StoredBlob } from "../repository/v2/PackStore.js";
import type { IndexRecord } from "../types.js";
import { alive } from "./historyCache.js";

/** A version as the scratch store keeps it: its path, what happened, the entry it left (an id in `entries`), where it came from. */
export type ScratchVersion = [path: string, event: "put" | "moved" | "deleted", entry: number | null, from: string | null];
/** Where a blob is: pack, offset, stored length, size, codec. */
type Location = [pack: string, offset: number, length: number, size: number, codec: StoredBlob["codec"]];

/** A blob id as a key (its 32 bytes). */
export const blobKey = (id: string): Buffer => Buffer.from(id, "hex");

/**
 * What a prune computes, on disk rather than in memory (docs/history.md "Prune"): an LMDB file in a directory of its
 * own under the user's cache directory, removed when the prune ends; one left by a prune that was killed is removed
 * by the next. It holds the decrypted index, so the directory is the user's own (mode 0700). Nothing in it is ever
 * trusted across runs: it is written from the store by the prune that reads it.
 */
export class PruneScratch {
  readonly #root: RootDatabase;
  readonly directory: string;
  /** Every entry put, by the id the prune gave it. */
  readonly entries: Database<IndexRecord, number>;
  /** Every version, by path then commit (so one path's versions are read together, oldest first). */
  readonly versions: Database<ScratchVersion, Buffer>;
  /** What the new history keeps, by commit, deletions before puts, then path: [path, entry id or null]. */
  readonly kept: Database<[string, number | null], Buffer>;
  /** Where each blob is (the first batch in apply order that locates it), and after a repack where it was moved to. */
  readonly located: Database<Location, Buffer>;
  /** Blobs a kept version needs: 1, and 2 once the new history has located it. */
  readonly needed: Database<number, Buffer>;

  private constructor(root: RootDatabase, directory: string) {
    this.#root = root;
    this.directory = directory;
    this.entries = root.openDB({ name: "entries", keyEncoding: "uint32", encoding: "json" });
    this.versions = root.openDB({ name: "versions", keyEncoding: "binary", encoding: "json" });
    this.kept = root.openDB({ name: "kept", keyEncoding: "binary", encoding: "json" });
    this.located = root.openDB({ name: "located", keyEncoding: "binary", encoding: "json" });
    this.needed = root.openDB({ name: "needed", keyEncoding: "binary", encoding: "json" });
  }

  /** A new scratch store under `cacheRoot` (made 0700 if absent); those of prunes that are no longer running go first. */
  static open(cacheRoot: string): PruneScratch {
    mkdirSync(cacheRoot, { recursive: true, mode: 0o700 });
    removeStale(cacheRoot);
    const directory = join(cacheRoot, `prune-${process.pid}-${randomBytes(4).toString("hex")}`);
    mkdirSync(directory, { mode: 0o700 });
    const st = lstatSync(directory);
    if ((st.mode & 0o077) !== 0) chmodSync(directory, 0o700);
    try {
      // Nothing here outlives the prune, so nothing is synced; LMDB's map is sparse, its size only a ceiling.
      const root = open({ path: join(directory, "prune.mdb"), maxDbs: 8, noSync: true, compression: false, mapSize: 2 ** 40 });
      return new PruneScratch(root, directory);
    } catch (err) {
      rmSync(directory, { recursive: true, force: true });
      throw err;
    }
  }

  /** Runs `write` in one write transaction (puts inside it are seen by gets inside it). */
  write<T>(write: () => T): T {
    return this.#root.transactionSync(write);
  }

  location(id: string): StoredBlob | undefined {
    const l = this.located.get(blobKey(id));
    return l && { id, pack: l[0], offset: l[1], length: l[2], size: l[3], codec: l[4] };
  }

  /** In a write transaction: records where `b` is, unless an earlier batch located it (or `replace`: it was moved). */
  locate(b: StoredBlob, replace = false): void {
    const key = blobKey(b.id);
    if (replace || this.located.get(key) === undefined) this.located.putSync(key, [b.pack, b.offset, b.length, b.size, b.codec]);
  }

  /** Every located blob, in id order. */
  *locations(): Generator<StoredBlob> {
    for (const { key, value: l } of this.located.getRange({}))
      yield { id: key.toString("hex"), pack: l[0], offset: l[1], length: l[2], size: l[3], codec: l[4] };
  }

  async close(): Promise<void> {
    try {
      await this.#root.close();
    } finally {
      rmSync(this.directory, { recursive: true, force: true });
    }
  }
}

/** Removes the scratch directories of prunes whose process is gone (killed, or crashed). */
function removeStale(cacheRoot: string): void {
  for (const name of readdirSync(cacheRoot)) {
    const pid = /^prune-(\d+)-[0-9a-f]{8}$/.exec(name)?.[1];
    if (pid !== undefined && !alive(Number(pid))) rmSync(join(cacheRoot, name), { recursive: true, force: true });
  }
}
