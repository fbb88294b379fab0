import type { Database } from "lmdb";
import type { StoredBlob } from "./PackStore.js";

/** Blob codecs by their number in a location. */
const CODECS: readonly StoredBlob["codec"][] = ["none", "zstd"];

/** A blob id as a key (its 32 bytes). */
export const blobKey = (id: string): Buffer => Buffer.from(id, "hex");

/**
 * Where blobs are, in an LMDB database of a scratch store: by blob id (32 bytes), 17 bytes each (the pack's number
 * in a table held here, offset, stored length, size, codec), a million blobs in some 50 MB on disk and next to
 * nothing in memory (a repository has few packs for its blobs).
 */
export class BlobTable {
  readonly #db: Database<Buffer, Buffer>;
  readonly #packs: string[] = [];
  readonly #packNumbers = new Map<string, number>();

  constructor(db: Database<Buffer, Buffer>) {
    this.#db = db;
  }

  /** Where a blob is, by its id or its key. */
  location(id: string | Buffer): StoredBlob | undefined {
    const key = typeof id === "string" ? blobKey(id) : id;
    const l = this.#db.get(key);
    return l && this.#blob(typeof id === "string" ? id : key.toString("hex"), l);
  }

  /** Whether a blob is located (without decoding where). */
  has(id: string): boolean {
    return this.#db.doesExist(blobKey(id));
  }

  /** In a write transaction: records where `b` is, unless it is located already (or `replace`: it was moved). */
  locate(b: StoredBlob, replace = false): void {
    const l = Buffer.alloc(17);
    l.writeUInt32BE(this.packNumber(b.pack), 0);
    l.writeUInt32BE(b.offset, 4);
    l.writeUInt32BE(b.length, 8);
    l.writeUInt32BE(b.size, 12);
    l[16] = CODECS.indexOf(b.codec);
    this.#db.putSync(blobKey(b.id), l, { noOverwrite: !replace });
  }

  /** The number a pack has in this table's keys and locations. */
  packNumber(pack: string): number {
    let n = this.#packNumbers.get(pack);
    if (n === undefined) {
      n = this.#packs.push(pack) - 1;
      this.#packNumbers.set(pack, n);
    }
    return n;
  }

  /** Every located blob, in id order. */
  *locations(): Generator<StoredBlob> {
    for (const { key, value } of this.#db.getRange({ snapshot: false })) yield this.#blob(key.toString("hex"), value);
  }

  /** How many blobs are located. */
  get count(): number {
    return (this.#db.getStats() as { entryCount: number }).entryCount;
  }

  /** Outside a write transaction: forgets every location. */
  clear(): void {
    this.#db.clearSync();
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
}
