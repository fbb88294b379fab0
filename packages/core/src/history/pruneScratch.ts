import { randomBytes } from "node:crypto";
import { chmodSync, lstatSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { open, type Database, type RootDatabase } from "lmdb";
import type { StoredBlob } from "../repository/v2/PackStore.js";
import type { FileEntry } from "../types.js";
import { processAlive } from "../state/lock.js";

/** A version as the scratch store keeps it: its path, what happened, the entry it left (an id in `entries`), where it came from. */
export type ScratchVersion = [path: string, event: "put" | "moved" | "deleted", entry: number | null, from: string | null];
/** Blob codecs by their number in a location. */
const CODECS: readonly StoredBlob["codec"][] = ["none", "zstd"];

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
  /** Every entry put, by the id the prune gave it (without its path, which its versions say). */
  readonly entries: Database<Omit<FileEntry, "path">, number>;
  /** Every version, by path then commit (so one path's versions are read together, oldest first). */
  readonly versions: Database<ScratchVersion, Buffer>;
  /** What the new history keeps, by commit, deletions before puts, then path: [path, entry id or null]. */
  readonly kept: Database<[string, number | null], Buffer>;
  /**
   * Where each blob is (the first batch in apply order that locates it), and after a repack where it was moved to:
   * 17 bytes (the pack's number in `#packs`, offset, stored length, size, codec), a million blobs in some 50 MB.
   */
  readonly located: Database<Buffer, Buffer>;
  readonly #packs: string[] = [];
  readonly #packNumbers = new Map<string, number>();
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
    this.located = root.openDB({ name: "located", keyEncoding: "binary", encoding: "binary" });
    this.needed = root.openDB({ name: "needed", keyEncoding: "binary", encoding: "json" });
    this.repack = root.openDB({ name: "repack", keyEncoding: "binary", encoding: "binary" });
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
    const key = typeof id === "string" ? blobKey(id) : id;
    const l = this.located.get(key);
    return l && this.#blob(typeof id === "string" ? id : key.toString("hex"), l);
  }

  /** In a write transaction: records where `b` is, unless an earlier batch located it (or `replace`: it was moved). */
  locate(b: StoredBlob, replace = false): void {
    const l = Buffer.alloc(17);
    l.writeUInt32BE(this.#packNumber(b.pack), 0);
    l.writeUInt32BE(b.offset, 4);
    l.writeUInt32BE(b.length, 8);
    l.writeUInt32BE(b.size, 12);
    l[16] = CODECS.indexOf(b.codec);
    this.located.putSync(blobKey(b.id), l, { noOverwrite: !replace });
  }

  /**
   * In a write transaction: queues a kept blob of a pack being rewritten, keyed by pack number, offset and id (two
   * blobs an index wrongly puts at one offset are both queued), so that {@link repackQueue} gives a pack at a time.
   */
  queueRepack(b: StoredBlob): void {
    const key = Buffer.alloc(8);
    key.writeUInt32BE(this.#packNumber(b.pack), 0);
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

  #packNumber(pack: string): number {
    let n = this.#packNumbers.get(pack);
    if (n === undefined) {
      n = this.#packs.push(pack) - 1;
      this.#packNumbers.set(pack, n);
    }
    return n;
  }

  /** Every located blob, in id order. */
  *locations(): Generator<StoredBlob> {
    for (const { key, value } of this.located.getRange({ snapshot: false })) yield this.#blob(key.toString("hex"), value);
  }

  #blob(id: string, l: Buffer): StoredBlob {
    return {
      id,
      pack: this.#packs[l.readUInt32BE(0)]!,
      offset: l.readUInt32BE(4),
      length: l.readUInt32BE(8),
      size: l.readUInt32BE(12),
      codec: CODECS[l[16]!]!,
    };
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
    if (pid === undefined || processAlive(Number(pid))) continue;
    try {
      rmSync(join(cacheRoot, name), { recursive: true, force: true });
    } catch {
      // Another user's, in a shared directory: theirs to remove.
    }
  }
}
