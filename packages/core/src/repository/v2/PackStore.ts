import { Readable } from "node:stream";
import { StorageError } from "../../errors.js";
import { AgeRanges } from "../../crypto/age.js";
import { PLAIN, opening, type ObjectCipher } from "./cipher.js";
import { collectStream } from "../../io/collectStream.js";
import type { StorageBackend } from "../../storage/StorageBackend.js";
import { MAX_PACK_BYTES, PACK_TAIL_BYTES, PackBuilder, PackError, openBlob, parseToc, tocLengthOf, type BlobEntry, type Pack } from "./pack.js";

/** Options of {@link PackStore}. */
export interface PackStoreOptions {
  /** The repository prefix (`hosts/alpha/`, or empty). */
  readonly prefix?: string;
  /** A pack is stored once it holds this many bytes (the config's `packSize`). Default 16 MiB. */
  readonly packSize?: number;
  /** How blobs are named and packs sealed (the repository's; default: plain SHA-256, nothing sealed). */
  readonly cipher?: ObjectCipher;
}

/** A blob as the index records it: where it is ({@link BlobEntry}) and in which pack. */
export interface StoredBlob extends BlobEntry {
  readonly pack: string;
}

const ID = /^[0-9a-f]{64}$/;

/** `packs/<aa>/<pack id>`. */
export function packKey(id: string): string {
  if (!ID.test(id)) throw new RangeError(`not a pack id: ${JSON.stringify(id)}`);
  return `packs/${id.slice(0, 2)}/${id}`;
}

/**
 * Packs on a store (docs/format-v2.md "Packs"). Blobs are appended to an open pack, which is stored when it reaches
 * `packSize` and at every {@link flush}; `flush` hands out, with their packs, the blobs stored since the last one,
 * for the index batch that will name them, so that no record names a blob whose pack is not stored and durable.
 *
 * A pack that fails to store is kept and tried again at the next `flush` (its blobs are never dropped); `flush`
 * fails until it is stored. Reading a blob is one ranged read of its pack, verified.
 */
export class PackStore {
  readonly storage: StorageBackend;
  readonly #prefix: string;
  readonly #packSize: number;
  #open = new PackBuilder();
  /** Closed packs not yet stored (a failed put is kept here). */
  readonly #unstored: Pack[] = [];
  /** Stores in flight. */
  readonly #storing = new Set<Promise<void>>();
  /** Blobs stored since the last flush. */
  #stored: StoredBlob[] = [];
  /** Ids in the open pack, in unstored packs, or stored since the last flush: added, not yet handed out. */
  readonly #pending = new Set<string>();
  #flushing: Promise<void> = Promise.resolve();
  readonly #cipher: ObjectCipher;
  /** Sealed packs' ranged readers (header read and file key unwrapped once per pack), most recent last. */
  readonly #opened = new Map<string, Promise<AgeRanges>>();

  constructor(storage: StorageBackend, options: PackStoreOptions = {}) {
    this.storage = storage;
    this.#prefix = options.prefix ?? "";
    this.#cipher = options.cipher ?? PLAIN;
    this.#packSize = options.packSize ?? 16 * 1024 * 1024;
    if (!Number.isSafeInteger(this.#packSize) || this.#packSize < 1 || this.#packSize > MAX_PACK_BYTES / 2) {
      throw new RangeError(`packSize must be a whole number of bytes from 1 to ${MAX_PACK_BYTES / 2}`);
    }
  }

  /** Whether a blob was added and not yet handed out by {@link flush} (so it need not be added again). */
  pending(id: string): boolean {
    return this.#pending.has(id);
  }

  /**
   * Appends one blob (`id` is the repository's id of `raw`; checked unless `hashed`: the caller computed it from these
   * very bytes). Resolves once it is in the open pack; when that fills the pack, once the pack's store has been tried
   * (a failure keeps it for the next flush, it does not reject).
   */
  async add(id: string, raw: Uint8Array, hashed = false): Promise<void> {
    if (this.#pending.has(id)) return;
    if (!hashed && this.#cipher.blobId(raw) !== id) throw new Error(`blob ${id}: its bytes do not hash to its id`);
    // Back-pressure: one pack is stored while the next fills, no more. A full pack waits for the store in flight and
    // nothing is appended meanwhile, so the segments of a stored pack serve the next one: packs stored side by side
    // took fresh memory, whose page faults cost more than the copy (measured: 77 of 88 segments fresh, 10,000 files).
    while (this.#open.length >= this.#packSize && this.#storing.size > 0) await Promise.race(this.#storing);
    if (this.#pending.has(id)) return;
    this.#open.add(id, raw, true);
    this.#pending.add(id);
    if (this.#open.length < this.#packSize) return;
    while (this.#storing.size > 0) await Promise.race(this.#storing);
    if (this.#open.length >= this.#packSize) await this.#closeOpen();
  }

  /**
   * Stores the open pack and any pack a put failed for, waits for every store in flight, makes them durable
   * (`sync`), and returns the blobs stored since the last flush. Rejects (keeping everything) when a pack cannot be
   * stored; call it again.
   */
  flush(): Promise<StoredBlob[]> {
    // One flush at a time: a second waits for the first, then hands out what was stored after it.
    const next = this.#flushing.then(() => this.#flush());
    this.#flushing = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  async #flush(): Promise<StoredBlob[]> {
    await this.#closeOpen();
    while (this.#storing.size > 0) await Promise.all(this.#storing);
    const failed = [...this.#unstored];
    this.#unstored.length = 0;
    const errors: unknown[] = [];
    for (const pack of failed) {
      await this.#store(pack).catch((err: unknown) => {
        this.#unstored.push(pack);
        errors.push(err);
      });
    }
    if (errors.length > 0) throw errors[0];
    await this.storage.sync?.();
    const out = this.#stored;
    this.#stored = [];
    for (const blob of out) this.#pending.delete(blob.id);
    return out;
  }

  /** One blob's bytes: one ranged read of its pack, decompressed (never past its size) and verified. */
  async read(blob: StoredBlob): Promise<Buffer> {
    const key = this.#prefix + packKey(blob.pack);
    let stored: Buffer;
    if (blob.length === 0) stored = Buffer.alloc(0);
    else if (this.#cipher.encrypted) stored = await this.readPlain(blob.pack, blob.offset, blob.offset + blob.length);
    else stored = await collectStream(await this.storage.get(key, { start: blob.offset, end: blob.offset + blob.length - 1 }), { limit: blob.length });
    try {
      return openBlob(blob, stored, this.#cipher.blobId);
    } catch (err) {
      throw new StorageError("INTEGRITY", `pack ${key}: ${(err as Error).message}`, { key, transient: false });
    }
  }

  /**
   * Several blobs of one pack by one ranged read of the span that holds them all (a prune rewriting what it keeps of a
   * pack reads it once, not once per blob), each decompressed and verified as {@link read} does.
   */
  async readMany(pack: string, blobs: readonly StoredBlob[]): Promise<Buffer[]> {
    const key = this.#prefix + packKey(pack);
    let [from, to] = [Infinity, 0];
    for (const b of blobs) [from, to] = [Math.min(from, b.offset), Math.max(to, b.offset + b.length)];
    let span: Buffer = Buffer.alloc(0);
    if (to > from) {
      span = this.#cipher.encrypted
        ? await this.readPlain(pack, from, to)
        : await collectStream(await this.storage.get(key, { start: from, end: to - 1 }), { limit: to - from });
    }
    return blobs.map((b) => {
      try {
        if (b.pack !== pack) throw new Error(`blob ${b.id} is in pack ${b.pack}`);
        if (span.length < b.offset - from + b.length) throw new Error(`blob ${b.id} ends past the ${to - from} bytes read`);
        return openBlob(b, span.subarray(b.offset - from, b.offset - from + b.length), this.#cipher.blobId);
      } catch (err) {
        throw new StorageError("INTEGRITY", `pack ${key}: ${(err as Error).message}`, { key, transient: false });
      }
    });
  }

  /** A pack's table of contents, by two ranged reads (its tail, then the table), checked. */
  async contents(pack: string): Promise<BlobEntry[]> {
    const key = this.#prefix + packKey(pack);
    const size = await this.plainSize(pack);
    if (size === undefined) throw new StorageError("STORAGE_NOT_FOUND", `pack not found: ${key}`, { key, transient: false });
    try {
      if (size < 8 + PACK_TAIL_BYTES) throw new PackError(`it is ${size} bytes, too short for a pack`);
      const tail = await this.#range(pack, size - PACK_TAIL_BYTES, PACK_TAIL_BYTES);
      const tocLength = tocLengthOf(tail, size);
      const tocStart = size - PACK_TAIL_BYTES - tocLength;
      return parseToc(await this.#range(pack, tocStart, tocLength), tocStart);
    } catch (err) {
      if (!(err instanceof PackError)) throw err;
      throw new StorageError("INTEGRITY", `pack ${key} is corrupt: ${err.message}`, { key, transient: false });
    }
  }

  /** Every pack in the store (its id and size). */
  async *list(): AsyncGenerator<{ id: string; size: number }> {
    for await (const info of this.storage.list(`${this.#prefix}packs/`)) {
      const id = info.key.slice(info.key.lastIndexOf("/") + 1);
      if (ID.test(id) && info.key === this.#prefix + packKey(id)) yield { id, size: info.size };
    }
  }

  /** The size of a pack's plain bytes (its stored size when not sealed), or undefined when it is not stored. */
  async plainSize(pack: string): Promise<number | undefined> {
    if (this.#cipher.encrypted) {
      try {
        return (await this.#ranges(pack)).plaintextSize;
      } catch (err) {
        if (err instanceof StorageError && err.code === "STORAGE_NOT_FOUND") return undefined;
        throw err;
      }
    }
    return (await this.storage.head(this.#prefix + packKey(pack)))?.size;
  }

  /**
   * Plain bytes `[from, to)` of a sealed pack: the age chunks that cover them, by one ranged read, each chunk
   * authenticated (one taken from another pack or moved is refused).
   */
  async readPlain(pack: string, from: number, to: number): Promise<Buffer> {
    const key = this.#prefix + packKey(pack);
    const ranges = await this.#ranges(pack);
    if (to > ranges.plaintextSize)
      throw new StorageError("INTEGRITY", `pack ${key}: bytes ${from} to ${to} are past its end (${ranges.plaintextSize})`, { key, transient: false });
    const { start, end } = ranges.range(from, to);
    const cipher = await collectStream(await this.storage.get(key, { start, end: end - 1 }), { limit: end - start });
    return opening(`pack ${key}`, () => ranges.read(cipher, from, to));
  }

  /** A sealed pack's ranged reader: its size and header read once, its file key unwrapped once (a few held). */
  #ranges(pack: string): Promise<AgeRanges> {
    let opened = this.#opened.get(pack);
    if (opened) {
      this.#opened.delete(pack);
      this.#opened.set(pack, opened);
      return opened;
    }
    opened = this.#openRanges(pack);
    opened.catch(() => this.#opened.delete(pack));
    this.#opened.set(pack, opened);
    if (this.#opened.size > 256) this.#opened.delete(this.#opened.keys().next().value!);
    return opened;
  }

  async #openRanges(pack: string): Promise<AgeRanges> {
    const key = this.#prefix + packKey(pack);
    const info = await this.storage.head(key);
    if (!info) throw new StorageError("STORAGE_NOT_FOUND", `pack not found: ${key}`, { key, transient: false });
    for (let want = AgeRanges.HEADER_GUESS; ; want *= 8) {
      const length = Math.min(want, info.size);
      const prefix = length === 0 ? Buffer.alloc(0) : await collectStream(await this.storage.get(key, { start: 0, end: length - 1 }), { limit: length });
      const ranges = this.#cipher.ranges(prefix, info.size, `pack ${key}`);
      if (ranges) return ranges;
      if (length >= info.size || want > 1 << 20)
        throw new StorageError("INTEGRITY", `pack ${key}: its age header is longer than 1 MiB`, { key, transient: false });
    }
  }

  async #range(pack: string, start: number, length: number): Promise<Buffer> {
    if (length === 0) return Buffer.alloc(0);
    if (this.#cipher.encrypted) return this.readPlain(pack, start, start + length);
    const key = this.#prefix + packKey(pack);
    const bytes = await collectStream(await this.storage.get(key, { start, end: start + length - 1 }), { limit: length });
    if (bytes.length !== length) throw new PackError(`a read of ${length} bytes at ${start} returned ${bytes.length}`);
    return bytes;
  }

  /** Closes the open pack (when it has blobs) and starts storing it; a failure keeps it in `#unstored`. */
  async #closeOpen(): Promise<void> {
    if (this.#open.count === 0) return;
    // An encrypted repository's pack is one age file; its id is the SHA-256 of the sealed bytes (checkable without a key).
    const pack = this.#open.finish(this.#cipher.sealParts);
    this.#open = new PackBuilder();
    const storing = this.#store(pack).catch(() => void this.#unstored.push(pack));
    this.#storing.add(storing);
    try {
      await storing;
    } finally {
      this.#storing.delete(storing);
    }
  }

  async #store(pack: Pack): Promise<void> {
    // A stream of the parts: a backend that needs one buffer joins them itself; the local store writes them as they are.
    await this.storage.put(this.#prefix + packKey(pack.id), () => Readable.from(pack.parts, { objectMode: false }), pack.size);
    for (const entry of pack.entries) this.#stored.push({ ...entry, pack: pack.id });
    // The put has settled, so the store reads the parts no more (StorageBackend.put): their memory serves the next pack.
    pack.release();
  }
}
