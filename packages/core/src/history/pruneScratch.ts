import { rmSync } from "node:fs";
import { join } from "node:path";
import { open, type Database, type RootDatabase } from "lmdb";
import { BlobTable, blobKey } from "../repository/v2/blobTable.js";
import type { StoredBlob } from "../repository/v2/PackStore.js";
import type { FileEntry } from "../types.js";
import { openScratchDirectory } from "../state/scratchDirectory.js";

/** A version as the scratch store keeps it: its path, what happened, the entry it left (an id in `entries`), where it came from. */
export type ScratchVersion = [path: string, event: "put" | "moved" | "deleted", entry: number | null, from: string | null];
export { blobKey };

/**
 * What a prune computes, on disk rather than in memory (docs/history.md "Prune"): an LMDB file in a directory of its
 * own under the user's cache directory, removed when the prune ends; one left by a prune that was killed is removed
 * by the next. It holds the decrypted index, so the directory is the user's own (mode 0700). Nothing in it is ever
 * trusted across runs: it is written from the store by the prune that reads it.
 */
export class PruneScratch {
  readonly #root: RootDatabase;
  readonly directory: string;
  /** Every entry put, by the id the prune gave it (without its path, which its versions say). */
  readonly entries: Database<Omit<FileEntry, "path">, number>;
  /** Every version, by path then commit (so one path's versions are read together, oldest first). */
  readonly versions: Database<ScratchVersion, Buffer>;
  /** What the new history keeps, by commit, deletions before puts, then path: [path, entry id or null]. */
  readonly kept: Database<[string, number | null], Buffer>;
  /** Where each blob is (the first batch in apply order that locates it), and after a repack where it was moved to. */
  readonly #located: BlobTable;
  /** Blobs a kept version needs: 1, and 2 once the new history has located it. */
  readonly needed: Database<number, Buffer>;
  /** Kept blobs of packs being rewritten, by pack number, offset and id (so each pack is read once). */
  readonly repack: Database<Buffer, Buffer>;

  private constructor(root: RootDatabase, directory: string) {
    this.#root = root;
    this.directory = directory;
    this.entries = root.openDB({ name: "entries", keyEncoding: "uint32", encoding: "json" });
    this.versions = root.openDB({ name: "versions", keyEncoding: "binary", encoding: "json" });
    this.kept = root.openDB({ name: "kept", keyEncoding: "binary", encoding: "json" });
    this.#located = new BlobTable(root.openDB({ name: "located", keyEncoding: "binary", encoding: "binary" }));
    this.needed = root.openDB({ name: "needed", keyEncoding: "binary", encoding: "json" });
    this.repack = root.openDB({ name: "repack", keyEncoding: "binary", encoding: "binary" });
  }

  /** A new scratch store under `cacheRoot` (made 0700 if absent); those of prunes that are no longer running go first. */
  static open(cacheRoot: string): PruneScratch {
    const directory = openScratchDirectory(cacheRoot, "prune");
    try {
      // Nothing here outlives the prune, so nothing is synced; LMDB's map is sparse, its size only a ceiling.
      const root = open({ path: join(directory, "prune.mdb"), maxDbs: 8, noSync: true, useWritemap: true, compression: false, mapSize: 2 ** 40 });
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

  /** Where a blob is, by its id or its key in `located` and `needed`. */
  location(id: string | Buffer): StoredBlob | undefined {
    return this.#located.location(id);
  }

  /** In a write transaction: records where `b` is, unless an earlier batch located it (or `replace`: it was moved). */
  locate(b: StoredBlob, replace = false): void {
    this.#located.locate(b, replace);
  }

  /**
   * In a write transaction: queues a kept blob of a pack being rewritten, keyed by pack number, offset and id (two
   * blobs an index wrongly puts at one offset are both queued), so that {@link repackQueue} gives a pack at a time.
   */
  queueRepack(b: StoredBlob): void {
    const key = Buffer.alloc(8);
    key.writeUInt32BE(this.#located.packNumber(b.pack), 0);
    key.writeUInt32BE(b.offset, 4);
    this.repack.putSync(Buffer.concat([key, blobKey(b.id)]), Buffer.alloc(0));
  }

  /** The queued blobs, a pack at a time (in offset order). */
  *repackQueue(): Generator<StoredBlob[]> {
    let group: StoredBlob[] = [];
    for (const { key } of this.repack.getRange({ snapshot: false })) {
      const b = this.location(key.subarray(8))!;
      if (group.length > 0 && group[0]!.pack !== b.pack) {
        yield group;
        group = [];
      }
      group.push(b);
    }
    if (group.length > 0) yield group;
  }

  /** Every located blob, in id order. */
  *locations(): Generator<StoredBlob> {
    yield* this.#located.locations();
  }

  async close(): Promise<void> {
    try {
      await this.#root.close();
    } finally {
      rmSync(this.directory, { recursive: true, force: true });
    }
  }
}
