import { rmSync } from "node:fs";
import { join } from "node:path";
import { open, type Database, type RootDatabase } from "lmdb";
import { HASHED, keyOf, rangeUnder } from "../../state/storedEntry.js";
import { openScratchDirectory } from "../../state/scratchDirectory.js";
import type { FileEntry, IndexRecord } from "../../types.js";
import { isNoOpMove } from "../format.js";
import { BlobTable } from "./blobTable.js";
import type { CheckpointSource } from "./laneBatch.js";
import type { StoredBlob } from "./PackStore.js";
import type { BatchBodies, BatchBody, TreeSink } from "./treeSink.js";

/**
 * A merged tree built on disk (`mergeTreeV2` into it): an LMDB file in a directory of its own (mode 0700, it holds
 * decrypted index data), removed by {@link close}; one a killed process left is removed by the next of its kind.
 * Entries are keyed by path as the state cache keys them (a hash for a path that is not UTF-8 or too long for a key),
 * so a directory's subtree is one key range. Memory holds the batch being applied, not the tree: the pages LMDB maps
 * are the kernel's page cache. Nothing in it is trusted across runs.
 */
export class TreeSpill implements TreeSink {
  readonly #root: RootDatabase;
  readonly directory: string;
  readonly #entries: Database<FileEntry, string>;
  readonly #blobs: BlobTable;
  readonly bodies: BatchBodies;

  private constructor(root: RootDatabase, directory: string) {
    this.#root = root;
    this.directory = directory;
    this.#entries = root.openDB({ name: "entries", encoding: "json" });
    this.#blobs = new BlobTable(root.openDB({ name: "blobs", keyEncoding: "binary", encoding: "binary" }));
    const bodies = root.openDB<BatchBody, string>({ name: "bodies", encoding: "json" });
    this.bodies = {
      set: (key, body) => bodies.putSync(key, body),
      get: (key) => bodies.get(key),
      delete: (key) => bodies.removeSync(key),
    };
  }

  /** A new spill under `root` (`tree-<pid>-<random>`); those whose process is gone are removed first. */
  static open(root: string): TreeSpill {
    const directory = openScratchDirectory(root, "tree");
    try {
      // Nothing here outlives the process, so nothing is synced; the map size is only a ceiling.
      const db = open({ path: join(directory, "tree.mdb"), maxDbs: 4, noSync: true, useWritemap: true, compression: false, mapSize: 2 ** 40 });
      return new TreeSpill(db, directory);
    } catch (err) {
      rmSync(directory, { recursive: true, force: true });
      throw err;
    }
  }

  write(writes: () => void): void {
    this.#root.transactionSync(writes);
  }

  locate(blob: StoredBlob): void {
    this.#blobs.locate(blob);
  }

  put(entry: FileEntry): void {
    this.#entries.putSync(keyOf(entry.path), entry);
  }

  apply(record: IndexRecord): void {
    // Step for step what applyRecord does to a Map, so both give the same tree.
    switch (record.op) {
      case "put": {
        const { op: _op, ...entry } = record;
        this.put(entry);
        return;
      }
      case "delete":
        this.#delete(record.path);
        return;
      case "move": {
        if (isNoOpMove(record.from, record.to)) return;
        const single = this.get(record.from);
        if (single && single.type !== "dir") {
          this.#delete(record.to);
          this.#entries.removeSync(keyOf(record.from));
          this.put({ ...single, path: record.to });
          return;
        }
        const moved = [...(single ? [single] : []), ...this.under(`${record.from}/`)];
        this.#delete(record.to);
        for (const entry of moved) this.#entries.removeSync(keyOf(entry.path));
        for (const entry of moved) {
          const path = record.to + entry.path.slice(record.from.length);
          this.put({ ...entry, path });
        }
        return;
      }
    }
  }

  #delete(path: string): void {
    const existing = this.get(path);
    this.#entries.removeSync(keyOf(path));
    if (existing && existing.type !== "dir") return;
    for (const entry of [...this.under(`${path}/`)]) this.#entries.removeSync(keyOf(entry.path));
  }

  /** The entries whose paths start with `prefix` (which ends in `/`): one key range, and the hash-keyed ones. */
  *under(prefix: string): Generator<FileEntry> {
    const range = rangeUnder(prefix);
    if (range) yield* this.#entries.getRange({ ...range, snapshot: false }).map((e) => e.value);
    for (const entry of this.hashed()) if (entry.path.startsWith(prefix)) yield entry;
  }

  get(path: string): FileEntry | undefined {
    return this.#entries.get(keyOf(path));
  }

  clear(): void {
    this.#entries.clearSync();
    this.#blobs.clear();
  }

  /** Removes the entry at `path` alone (not what is under it). */
  drop(path: string): void {
    this.#entries.removeSync(keyOf(path));
  }

  /** The entries keyed by a hash of their path (not UTF-8, or too long for a key): in no path order. */
  *hashed(): Generator<FileEntry> {
    for (const { value } of this.#entries.getRange({ ...HASHED, snapshot: false })) yield value;
  }

  /**
   * The entries keyed by their path, in key order (a path's bytes: each directory before everything under it), or
   * reversed (everything under a directory before it).
   */
  *byPath(reverse = false): Generator<FileEntry> {
    for (const { key, value } of this.#entries.getRange({ reverse, snapshot: false })) if (key < HASHED.start || key >= HASHED.end) yield value;
  }

  /** Every entry, in key order. */
  *entryList(): Generator<FileEntry> {
    for (const { value } of this.#entries.getRange({ snapshot: false })) yield value;
  }

  blob(id: string): StoredBlob | undefined {
    return this.#blobs.location(id);
  }

  /** Every located blob, in id order. */
  locations(): Iterable<StoredBlob> {
    return this.#blobs.locations();
  }

  /** The tree as a checkpoint's source: blobs in id order, entries in key order, each counted. */
  source(): CheckpointSource {
    return { blobs: this.locations(), blobCount: this.blobCount, entries: this.entryList(), entryCount: this.entryCount };
  }

  get entryCount(): number {
    return (this.#entries.getStats() as { entryCount: number }).entryCount;
  }

  get blobCount(): number {
    return this.#blobs.count;
  }

  async close(): Promise<void> {
    try {
      await this.#root.close();
    } finally {
      rmSync(this.directory, { recursive: true, force: true });
    }
  }
}
