import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { createHash, randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import { BackupError, StorageError } from "../errors.js";
import type { StorageBackend } from "../storage/StorageBackend.js";
import { putConfig } from "./putConfig.js";
import type { FileEntry, IndexRecord } from "../types.js";
import {
  BATCH_GROUP_SIZE,
  FORMAT_NAME,
  FORMAT_VERSION,
  MAX_BATCH_BYTES,
  MAX_RECORD_BYTES,
  asRecord,
  batchGroup,
  batchKey,
  checkpointKey,
  chunkSizeProblem,
  compareIndexNames,
  dataKey,
  decodeIndexObject,
  encodeIndexObject,
  headerProblem,
  parseIndexKey,
  sha256Hex,
  type IndexHeader,
  type IndexObjectName,
  type RepositoryConfig,
} from "./format.js";
import { boundedLines } from "./boundedLines.js";
import { collectStream } from "../io/collectStream.js";

/** Options of {@link Repository.open}. */
export interface OpenRepositoryOptions {
  /** Key prefix inside the store (`hosts/alpha/`); a trailing `/` is added when missing. */
  prefix?: string;
  /** Create the repository if there is none, with this chunk size. Without it, a missing repository is an error. */
  create?: { chunkSize: number };
}

/** Options of {@link Repository.readBatch}. */
export interface ReadBatchOptions {
  /** Salvage: a refused record (its error and 1-based number) is passed here and skipped instead of failing the batch. */
  onBadRecord?: (err: StorageError, record: number) => void;
}

/** A config of a format version the v1 reader does not read (`openRepository` opens version 2 with the v2 reader). */
export class UnsupportedVersionError extends BackupError {
  readonly version: unknown;
  constructor(version: unknown) {
    super("REPOSITORY_VERSION", `repository format version ${String(version)} is not supported (this program reads ${FORMAT_VERSION} and 2)`);
    this.version = version;
  }
}

/** Reads its whole stream into a buffer. */
function collect(stream: Readable, limit = Number.POSITIVE_INFINITY, key = ""): Promise<Buffer> {
  return collectStream(stream, {
    limit,
    tooLarge: () => new StorageError("INTEGRITY", `index object ${key} is corrupt: it is larger than ${limit} bytes`, { key, transient: false }),
  });
}

/**
 * The repository layer (format v1, docs/format.md) on top of a dumb {@link StorageBackend}: content objects named by
 * their SHA-256, an append-only journal of batch objects, and checkpoints. Every read is verified.
 */
export class Repository {
  readonly storage: StorageBackend;
  readonly prefix: string;
  readonly config: RepositoryConfig;

  private constructor(storage: StorageBackend, prefix: string, config: RepositoryConfig) {
    this.storage = storage;
    this.prefix = prefix;
    this.config = config;
  }

  /** Opens (or, with `create`, initialises) the repository under `prefix`. */
  static async open(storage: StorageBackend, options: OpenRepositoryOptions = {}): Promise<Repository> {
    let prefix = options.prefix ?? "";
    if (prefix !== "" && !prefix.endsWith("/")) prefix += "/";
    const key = `${prefix}config`;
    const info = await storage.head(key);
    if (!info) {
      if (!options.create) {
        throw new BackupError("REPOSITORY_INVALID", `no repository at ${storage.description} (missing object "${key}")`);
      }
      const problem = chunkSizeProblem(options.create.chunkSize);
      if (problem) throw new BackupError("REPOSITORY_INVALID", `cannot create a repository at ${storage.description}: ${problem}`);
      const config: RepositoryConfig = {
        format: FORMAT_NAME,
        version: FORMAT_VERSION,
        id: randomBytes(16).toString("hex"),
        created: new Date().toISOString(),
        hash: "sha256",
        chunkSize: options.create.chunkSize,
      };
      const body = Buffer.from(`${JSON.stringify(config, null, 2)}\n`);
      // Another process that created it first has the config that stands: open that one.
      if (!(await putConfig(storage, key, body))) return Repository.open(storage, { prefix });
      return new Repository(storage, prefix, config);
    }
    const raw = await collect(await storage.get(key));
    let config: RepositoryConfig;
    try {
      config = JSON.parse(raw.toString("utf8")) as RepositoryConfig;
    } catch {
      throw new StorageError("INTEGRITY", `repository config object "${key}" is not valid JSON`, { key, transient: false });
    }
    if (config.format !== FORMAT_NAME) {
      throw new BackupError("REPOSITORY_INVALID", `"${key}" is not a realtime-backup repository config`);
    }
    if (config.version !== FORMAT_VERSION) throw new UnsupportedVersionError(config.version);
    const problem = chunkSizeProblem(config.chunkSize);
    if (problem) throw new StorageError("INTEGRITY", `repository config "${key}" is invalid: ${problem}`, { key, transient: false });
    return new Repository(storage, prefix, config);
  }

  /** Stores a chunk under its id (the SHA-256 of `data`, computed by the caller). */
  async putChunk(id: string, data: Buffer): Promise<void> {
    await this.storage.put(this.prefix + dataKey(id), data, data.length);
  }

  /** Whether a chunk is stored (one `head` call). */
  async hasChunk(id: string): Promise<boolean> {
    return (await this.storage.head(this.prefix + dataKey(id))) !== undefined;
  }

  /** Reads a chunk and verifies it against its id; a mismatch is an INTEGRITY error naming the object. */
  async getChunk(id: string): Promise<Buffer> {
    const key = this.prefix + dataKey(id);
    const data = await collect(await this.storage.get(key));
    if (sha256Hex(data) !== id) {
      throw new StorageError("INTEGRITY", `content object ${key} is corrupt: its ${data.length} bytes do not hash to its name`, {
        key,
        transient: false,
      });
    }
    return data;
  }

  /** Every chunk id in the store (for rebuilding the local known-chunk set). */
  async *listChunks(): AsyncIterable<string> {
    for await (const info of this.storage.list(`${this.prefix}data/`)) {
      const id = info.key.slice(info.key.lastIndexOf("/") + 1);
      if (/^[0-9a-f]{64}$/.test(id)) yield id;
    }
  }

  /** Encodes batch `seq` without storing it: its key (relative to the prefix) and bytes. */
  encodeBatch(seq: number, time: number, records: readonly IndexRecord[], replaces: readonly string[] = []): { key: string; body: Buffer } {
    const header: IndexHeader = { v: FORMAT_VERSION, kind: "batch", seq, time, count: records.length };
    if (replaces.length) header.replaces = [...replaces];
    const { body, digest } = encodeIndexObject(header, records);
    return { key: batchKey(seq, time, digest), body };
  }

  /** Stores an encoded batch, after making every chunk it names durable. */
  async putBatch(batch: { key: string; body: Buffer }): Promise<void> {
    // Content first: every chunk the batch names must be durable before the batch is.
    await this.storage.sync?.();
    await this.storage.put(this.prefix + batch.key, batch.body, batch.body.length);
    await this.storage.sync?.();
  }

  /** Writes batch `seq`. Returns its key. */
  async writeBatch(seq: number, time: number, records: readonly IndexRecord[], replaces: readonly string[] = []): Promise<string> {
    const batch = this.encodeBatch(seq, time, records, replaces);
    await this.putBatch(batch);
    return batch.key;
  }

  #strip(key: string): string {
    return key.slice(this.prefix.length);
  }

  /**
   * Lists every batch object with a sequence number ≥ `fromSeq`, in journal order (sequence number, time, digest),
   * by walking the group directories from `fromSeq`'s group until one is empty. Several objects may carry the same
   * sequence number (two writers, docs/format.md "Several writers"); all of them are listed.
   */
  async *listBatches(fromSeq = 0): AsyncIterable<IndexObjectName> {
    for (let group = Math.floor(Math.max(0, fromSeq) / BATCH_GROUP_SIZE); ; group++) {
      const names: IndexObjectName[] = [];
      let any = false;
      for await (const info of this.storage.list(this.prefix + batchGroup(group * BATCH_GROUP_SIZE))) {
        const name = parseIndexKey(this.#strip(info.key));
        if (!name) continue;
        any = true;
        if (name.seq >= fromSeq) names.push({ ...name, key: this.#strip(info.key) });
      }
      if (!any) return;
      yield* names.sort(compareIndexNames);
    }
  }

  /**
   * Reads and verifies one batch. A record that breaks the format's rules is an INTEGRITY error naming the object,
   * record and field; with `onBadRecord` (salvaging readers) it is passed there and left out, and the other records
   * are returned.
   */
  async readBatch(name: IndexObjectName, options: ReadBatchOptions = {}): Promise<{ header: IndexHeader; records: IndexRecord[] }> {
    const bytes = await collect(await this.storage.get(this.prefix + name.key), MAX_BATCH_BYTES, name.key);
    const { header, lines } = decodeIndexObject(name, bytes);
    const records: IndexRecord[] = [];
    for (let i = 0; i < lines.length; i++) {
      try {
        records.push(asRecord(lines[i], `index object ${name.key} record ${i + 1}`, this.config.chunkSize));
      } catch (err) {
        if (!options.onBadRecord || !(err instanceof StorageError)) throw err;
        options.onBadRecord(err, i + 1);
      }
    }
    return { header, records };
  }

  /** Checkpoint objects, oldest first. */
  async listCheckpoints(): Promise<IndexObjectName[]> {
    const out: IndexObjectName[] = [];
    for await (const info of this.storage.list(`${this.prefix}index/checkpoint/`)) {
      const name = parseIndexKey(this.#strip(info.key));
      if (name) out.push({ ...name, key: this.#strip(info.key) });
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  /**
   * Writes a checkpoint: the full tree as of batch `seq`. Entries are streamed through gzip into a temporary file
   * (so a million entries never sit in memory as one string), hashed, then uploaded.
   */
  async writeCheckpoint(seq: number, time: number, entries: AsyncIterable<FileEntry> | Iterable<FileEntry>, count: number): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), "rtb-checkpoint-"));
    const file = join(dir, "checkpoint.gz");
    try {
      const header: IndexHeader = { v: FORMAT_VERSION, kind: "checkpoint", seq, time, count };
      let written = 0;
      const lines = Readable.from(
        (async function* () {
          yield `${JSON.stringify(header)}\n`;
          let buf = "";
          for await (const entry of entries) {
            written++;
            buf += `${JSON.stringify({ op: "put", ...entry })}\n`;
            if (buf.length > 65536) {
              yield buf;
              buf = "";
            }
          }
          if (buf) yield buf;
        })(),
      );
      const hash = createHash("sha256");
      const tee = new PassThrough();
      tee.on("data", (d: Buffer) => hash.update(d));
      await pipeline(lines, createGzip({ level: 6 }), tee, createWriteStream(file));
      if (written !== count) {
        throw new BackupError("STATE_CACHE", `checkpoint ${seq}: expected ${count} entries, the state cache gave ${written}`);
      }
      const digest = hash.digest("hex");
      const key = checkpointKey(seq, time, digest);
      const { size } = await stat(file);
      await this.storage.put(this.prefix + key, () => createReadStream(file), size);
      await this.storage.sync?.();
      return key;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Streams the entries of a checkpoint. The object's digest is checked as it is read; a mismatch, a truncated
   * gzip stream or a wrong count throws an INTEGRITY error naming the object after the last entry, so callers must
   * apply entries to a scratch structure and only trust it once iteration completed.
   */
  async *readCheckpoint(name: IndexObjectName): AsyncIterable<FileEntry> {
    const fail = (why: string): never => {
      throw new StorageError("INTEGRITY", `index object ${name.key} is corrupt: ${why}`, { key: name.key, transient: false });
    };
    const source = await this.storage.get(this.prefix + name.key);
    const hash = createHash("sha256");
    const tee = new PassThrough();
    source.on("data", (d: Buffer) => hash.update(d));
    const gunzip = createGunzip();
    source.on("error", (err) => gunzip.destroy(err));
    source.pipe(gunzip).pipe(tee);
    gunzip.on("error", (err) => tee.destroy(err));
    let header: IndexHeader | undefined;
    let n = 0;
    try {
      // Bounded: no line longer than MAX_RECORD_BYTES is buffered, and no more entries than the header promises (at
      // most MAX_CHECKPOINT_ENTRIES) are read, so a decompression bomb costs time, never unbounded memory.
      for await (const line of boundedLines(tee, MAX_RECORD_BYTES)) {
        if (!header) {
          header = JSON.parse(line) as IndexHeader;
          if (header?.v !== FORMAT_VERSION) fail(`version ${header?.v}`);
          const problem = headerProblem(header, name, "checkpoint");
          if (problem) fail(problem);
          continue;
        }
        if (n >= header.count) fail(`more entries than the ${header.count} its header says`);
        const record = asRecord(JSON.parse(line), `index object ${name.key} record ${n + 1}`, this.config.chunkSize);
        if (record.op !== "put") fail(`record ${n + 1} is not a put`);
        n++;
        const { op: _op, ...entry } = record as Extract<IndexRecord, { op: "put" }>;
        yield entry;
      }
    } catch (err) {
      if (err instanceof StorageError) throw err;
      fail((err as Error).message);
    } finally {
      source.destroy();
      gunzip.destroy();
    }
    if (hash.digest("hex") !== name.digest) fail("SHA-256 does not match its name");
    if (!header) fail("empty");
    if (header!.count !== n) fail(`header says ${header!.count} entries, found ${n}`);
  }
}
