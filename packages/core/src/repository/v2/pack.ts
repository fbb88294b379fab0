import { createHash } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { BufferPool } from "../../io/BufferPool.js";
import { compress, decompressBlob, type BlobCodec } from "./codec.js";

/** The first 8 bytes of every pack. */
export const PACK_MAGIC = Buffer.from("RTBPACK2", "latin1");
/** The last 8 bytes of every pack, after the table of contents and its 4-byte length. */
export const TOC_MAGIC = Buffer.from("RTBPTOC2", "latin1");
/** Bytes after the table of contents: its length (4) and the closing magic (8). */
export const PACK_TAIL_BYTES = 12;
/** Largest pack a reader accepts. */
export const MAX_PACK_BYTES = 1024 * 1024 * 1024;
/** Largest uncompressed blob (the most a chunking's maxSize may be). */
export const MAX_BLOB_SIZE = 16 * 1024 * 1024;
/** Largest table of contents, uncompressed, and most blobs in one pack. */
export const MAX_TOC_BYTES = 64 * 1024 * 1024;
export const MAX_TOC_ENTRIES = 1_000_000;

/** Where one blob is, and how to read it (a table-of-contents line, and the `blob` record of a v2 batch). */
export interface BlobEntry {
  /** SHA-256 (hex) of the uncompressed bytes. */
  readonly id: string;
  /** First stored byte, from the start of the pack. */
  readonly offset: number;
  /** Stored bytes. */
  readonly length: number;
  /** Uncompressed bytes. */
  readonly size: number;
  readonly codec: BlobCodec;
}

/** A finished pack: its bytes (as the parts they were built from, and joined on demand), its id and what is in it. */
export interface Pack {
  /** SHA-256 of the bytes. */
  readonly id: string;
  /** The bytes, in order (stored as they are, never joined). */
  readonly parts: readonly Buffer[];
  readonly size: number;
  /** The bytes as one buffer (joined the first time it is asked for). */
  readonly bytes: Buffer;
  readonly entries: readonly BlobEntry[];
  /**
   * Hands the pack's memory back for the next pack once it is stored: its parts must not be read after this (by the
   * store included, so only after its put has settled). A pack never released is simply collected.
   */
  release(): void;
}

/** A pack that is wrong: what is wrong, for an error that names the pack. */
export class PackError extends Error {}

const ID = /^[0-9a-f]{64}$/;

/** Stored blobs are copied one after another into segments of this size (a blob may span two or more). */
const SEGMENT_BYTES = 1024 * 1024;

/**
 * Segments of released packs, for the next ones: two packs of the default size (one filling, one being stored), so
 * that a long backup writes into memory it has touched before instead of faulting in fresh pages.
 */
const SEGMENTS = new BufferPool(SEGMENT_BYTES, 32);

/** Bytes copied one after another into pooled segments (a write may span two or more). */
class Segments {
  /** Every segment taken, in order; the last is being filled, up to `#used` bytes. */
  readonly taken: Buffer[] = [];
  #used = SEGMENT_BYTES;
  length = 0;

  /** Copies `bytes` in (never keeps `bytes` itself: the caller may reuse it at once). */
  write(bytes: Uint8Array): void {
    for (let at = 0; at < bytes.length;) {
      if (this.#used === SEGMENT_BYTES) {
        this.taken.push(SEGMENTS.take());
        this.#used = 0;
      }
      const n = Math.min(bytes.length - at, SEGMENT_BYTES - this.#used);
      this.taken[this.taken.length - 1]!.set(bytes.subarray(at, at + n), this.#used);
      this.#used += n;
      at += n;
    }
    this.length += bytes.length;
  }

  /** The bytes written, as views of the segments. */
  views(): Buffer[] {
    return this.taken.map((segment, i) => (i === this.taken.length - 1 ? segment.subarray(0, this.#used) : segment));
  }

  release(): void {
    for (const segment of this.taken.splice(0)) SEGMENTS.give(segment);
  }
}

/**
 * Seals a pack's plain bytes (`parts`, `size` bytes in all): writes the sealed bytes through `out`, in order
 * (an encrypted repository's pack is one age file, docs/encryption.md).
 */
export type PackSealer = (parts: readonly Uint8Array[], size: number, out: (bytes: Uint8Array) => void) => void;

/**
 * Builds one pack (docs/format-v2.md "Packs"): blobs are appended as they come, each compressed when that makes
 * it smaller; {@link finish} adds the table of contents and names the pack by the SHA-256 of its bytes.
 */
export class PackBuilder {
  readonly #entries: BlobEntry[] = [];
  readonly #byId = new Map<string, BlobEntry>();
  #length = PACK_MAGIC.length;
  readonly #segments = new Segments();

  /** Bytes so far (without the table of contents), to close the pack at a size target. */
  get length(): number {
    return this.#length;
  }

  /** Blobs so far. */
  get count(): number {
    return this.#entries.length;
  }

  /** Whether the blob is already in this pack. */
  has(id: string): boolean {
    return this.#byId.has(id);
  }

  /**
   * Appends one blob; `id` must be the SHA-256 of `raw` (checked, unless `hashed`: the caller computed `id` from these
   * very bytes). A blob already in the pack is not added twice.
   */
  add(id: string, raw: Uint8Array, hashed = false): BlobEntry {
    if (raw.length > MAX_BLOB_SIZE) throw new RangeError(`a blob of ${raw.length} bytes is larger than ${MAX_BLOB_SIZE}`);
    if (!hashed && createHash("sha256").update(raw).digest("hex") !== id) throw new Error(`blob ${id}: its bytes do not hash to its id`);
    const existing = this.#byId.get(id);
    if (existing) return existing;
    const { codec, length } = this.#store(raw);
    const entry: BlobEntry = { id, offset: this.#length, length, size: raw.length, codec };
    this.#entries.push(entry);
    this.#byId.set(id, entry);
    this.#length += length;
    return entry;
  }

  /** Copies the stored form of `raw` (never `raw` itself: the caller may reuse it at once) into the segments. */
  #store(raw: Uint8Array): { codec: BlobCodec; length: number } {
    const { codec, stored } = compress(raw);
    this.#segments.write(stored);
    return { codec, length: stored.length };
  }

  /**
   * The whole pack; with `seal`, sealed (into pooled segments too, the plain ones handed back at once; the entries
   * keep their plain offsets). The builder is not used after this.
   */
  finish(seal?: PackSealer): Pack {
    const toc = gzipSync(Buffer.from(this.#entries.map((e) => `${JSON.stringify(e)}\n`).join("")), { level: 1 });
    const length = Buffer.alloc(4);
    length.writeUInt32BE(toc.length, 0);
    let segments = this.#segments;
    let parts = [PACK_MAGIC, ...segments.views(), toc, length, TOC_MAGIC];
    let size = this.#length + toc.length + PACK_TAIL_BYTES;
    if (seal) {
      const sealed = new Segments();
      seal(parts, size, (bytes) => sealed.write(bytes));
      segments.release();
      [segments, parts, size] = [sealed, sealed.views(), sealed.length];
    }
    // Hashed part by part and kept in parts: a pack of 16 MiB is never copied into one buffer to be stored.
    const hash = createHash("sha256");
    for (const part of parts) hash.update(part);
    let joined: Buffer | undefined;
    let released = false;
    return {
      id: hash.digest("hex"),
      parts,
      size,
      get bytes() {
        if (released) throw new Error("a released pack's bytes are gone");
        return (joined ??= Buffer.concat(parts, size));
      },
      entries: [...this.#entries],
      release() {
        if (released) return;
        released = true;
        segments.release();
      },
    };
  }
}

/** The length of the table of contents, from the pack's last {@link PACK_TAIL_BYTES} bytes. */
export function tocLengthOf(tail: Buffer, packLength: number): number {
  if (tail.length !== PACK_TAIL_BYTES || !tail.subarray(4).equals(TOC_MAGIC)) throw new PackError("it does not end with the table-of-contents magic");
  const length = tail.readUInt32BE(0);
  if (length > packLength - PACK_MAGIC.length - PACK_TAIL_BYTES) throw new PackError(`its table of contents (${length} bytes) is longer than the pack`);
  return length;
}

/** Parses and checks a table of contents (gzip of JSON lines): every entry well formed, in order, inside the blobs. */
export function parseToc(gzipped: Buffer, blobsEnd: number): BlobEntry[] {
  let text: string;
  try {
    text = gunzipSync(gzipped, { maxOutputLength: MAX_TOC_BYTES }).toString("utf8");
  } catch (err) {
    throw new PackError(`its table of contents does not decompress (${(err as Error).message})`);
  }
  if (text !== "" && !text.endsWith("\n")) throw new PackError("its table of contents does not end with a newline");
  const lines = text === "" ? [] : text.slice(0, -1).split("\n");
  if (lines.length > MAX_TOC_ENTRIES) throw new PackError(`its table of contents has more than ${MAX_TOC_ENTRIES} entries`);
  let next = PACK_MAGIC.length;
  return lines.map((line, i) => {
    const entry = blobEntryOf(parseLine(line, i), `table-of-contents entry ${i + 1}`);
    if (entry.offset !== next) throw new PackError(`table-of-contents entry ${i + 1} starts at ${entry.offset}, expected ${next}`);
    next += entry.length;
    if (next > blobsEnd) throw new PackError(`table-of-contents entry ${i + 1} ends past the blobs (${next} > ${blobsEnd})`);
    return entry;
  });
}

function parseLine(line: string, i: number): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new PackError(`table-of-contents entry ${i + 1} is not JSON`);
  }
}

/** Checks one blob entry field by field (a table-of-contents line or a batch's `blob` record). */
export function blobEntryOf(value: unknown, what: string): BlobEntry {
  const v = value as Record<string, unknown>;
  const int = (n: unknown, max: number) => Number.isSafeInteger(n) && (n as number) >= 0 && (n as number) <= max;
  if (typeof value !== "object" || value === null) throw new PackError(`${what} is not an object`);
  if (typeof v.id !== "string" || !ID.test(v.id)) throw new PackError(`${what}: id is not 64 lowercase hex digits`);
  if (!int(v.offset, MAX_PACK_BYTES) || (v.offset as number) < PACK_MAGIC.length) throw new PackError(`${what}: bad offset`);
  if (!int(v.size, MAX_BLOB_SIZE)) throw new PackError(`${what}: size is not a whole number from 0 to ${MAX_BLOB_SIZE}`);
  if (!int(v.length, MAX_PACK_BYTES)) throw new PackError(`${what}: bad length`);
  if (v.codec !== "zstd" && v.codec !== "none") throw new PackError(`${what}: unknown codec ${JSON.stringify(v.codec)}`);
  if (v.codec === "none" && v.length !== v.size) throw new PackError(`${what}: a blob stored without compression must have length = size`);
  return { id: v.id, offset: v.offset as number, length: v.length as number, size: v.size as number, codec: v.codec };
}

/** Reads a whole pack: checks its magic, its id (when given) and its table of contents. */
export function readPack(bytes: Buffer, id?: string): BlobEntry[] {
  if (bytes.length > MAX_PACK_BYTES) throw new PackError(`it is larger than ${MAX_PACK_BYTES} bytes`);
  if (id !== undefined && createHash("sha256").update(bytes).digest("hex") !== id) throw new PackError("its bytes do not hash to its name");
  if (bytes.length < PACK_MAGIC.length + PACK_TAIL_BYTES || !bytes.subarray(0, PACK_MAGIC.length).equals(PACK_MAGIC)) {
    throw new PackError("it does not start with the pack magic");
  }
  const tocLength = tocLengthOf(bytes.subarray(bytes.length - PACK_TAIL_BYTES), bytes.length);
  const tocStart = bytes.length - PACK_TAIL_BYTES - tocLength;
  return parseToc(bytes.subarray(tocStart, bytes.length - PACK_TAIL_BYTES), tocStart);
}

const sha256 = (raw: Uint8Array) => createHash("sha256").update(raw).digest("hex");

/**
 * One blob's uncompressed bytes from its stored bytes (a ranged read of `entry.offset`, `entry.length`): at most
 * `entry.size` bytes are ever produced, and `idOf` of them (SHA-256, or the keyed id of an encrypted repository)
 * must be `entry.id`.
 */
export function openBlob(entry: BlobEntry, stored: Buffer, idOf: (raw: Uint8Array) => string = sha256): Buffer {
  if (stored.length !== entry.length) throw new PackError(`blob ${entry.id}: ${stored.length} stored bytes, expected ${entry.length}`);
  const raw = entry.codec === "none" ? stored : decompressBlob(stored, entry.size, entry.id);
  if (idOf(raw) !== entry.id) throw new PackError(`blob ${entry.id}: its bytes do not hash to its id`);
  return raw;
}
