import { randomBytes } from "node:crypto";
import { BackupError, RepositoryExistsError, StorageError, messageOf } from "../../errors.js";
import { collectStream } from "../../io/collectStream.js";
import type { StorageBackend } from "../../storage/StorageBackend.js";
import type { IndexRecord } from "../../types.js";
import { FORMAT_NAME } from "../format.js";
import { DEFAULT_CDC, FastCdc, cdcParamsProblem, type CdcParams } from "./fastcdc.js";
import {
  decodeCheckpointV2,
  decodeLaneBatch,
  encodeCheckpointV2,
  encodeLaneBatch,
  parseCheckpointKey,
  type CheckpointName,
  type CheckpointSource,
} from "./laneBatch.js";
import { laneBatchKey, laneKey, parseLaneBatchKey, LANE_ID, type LaneBatchName } from "./lanes.js";
import { PackStore, type StoredBlob } from "./PackStore.js";
import { decodeBase, encodeBase, parseBaseKey, type Base, type BaseName } from "./base.js";
import { generateMasterKey, keyCheck, type RepositoryKey } from "../../crypto/repositoryKey.js";
import { PLAIN, ageCipher, type ObjectCipher } from "./cipher.js";
import { putConfig } from "../putConfig.js";
import { addKeyObject, unlockKey, type KeySource, type KeyWrap } from "./keyObjects.js";

/** The `config` object of a v2 repository (docs/format-v2.md). */
export interface V2Config {
  readonly format: typeof FORMAT_NAME;
  readonly version: 2;
  readonly id: string;
  readonly created: string;
  readonly hash: "sha256";
  readonly chunking: { readonly kind: "fastcdc" } & CdcParams;
  readonly compression: "zstd";
  readonly packSize: number;
  readonly encryption: V2Encryption;
}

/** The config's `encryption`: none, or age objects and keyed ids, with the HMAC that tells a key of this repository. */
export type V2Encryption = { readonly mode: "none" } | { readonly mode: "age"; readonly check: string };

/** Why `c` is not a v2 config this reader knows, or undefined. */
export function v2ConfigProblem(c: unknown): string | undefined {
  const v = c as Record<string, unknown>;
  if (typeof c !== "object" || c === null) return "it is not an object";
  if (v.format !== FORMAT_NAME) return `format ${JSON.stringify(v.format)} is not "${FORMAT_NAME}"`;
  if (v.version !== 2) return `version ${JSON.stringify(v.version)} is not 2`;
  if (typeof v.id !== "string" || !/^[0-9a-f]{32}$/.test(v.id)) return "id is not 32 hex digits";
  if (v.hash !== "sha256") return `hash ${JSON.stringify(v.hash)} is not known`;
  if (v.compression !== "zstd") return `compression ${JSON.stringify(v.compression)} is not known`;
  const enc = v.encryption as Record<string, unknown> | undefined;
  if (enc?.mode === "age") {
    if (typeof enc.check !== "string" || !/^[0-9a-f]{64}$/.test(enc.check)) return "encryption check is not 64 hex digits";
  } else if (enc?.mode !== "none") return `encryption mode ${JSON.stringify(enc?.mode)} is not known to this reader`;
  const chunking = v.chunking as Record<string, unknown> | undefined;
  if (chunking?.kind !== "fastcdc") return `chunking ${JSON.stringify(chunking?.kind)} is not known`;
  const problem = cdcParamsProblem(chunking as unknown as CdcParams);
  if (problem) return `chunking: ${problem}`;
  if (!Number.isSafeInteger(v.packSize) || (v.packSize as number) < 1 << 20 || (v.packSize as number) > 1 << 30) return "packSize is not 1 MiB to 1 GiB";
  return undefined;
}

/**
 * A v2 repository on a store: its config, its packs, and writers and readers of its lanes, as docs/format-v2.md
 * specifies them. The agent writes through it (pipeline/LaneCommitter.ts).
 */
export class RepositoryV2 {
  readonly storage: StorageBackend;
  readonly prefix: string;
  readonly config: V2Config;
  readonly packs: PackStore;
  readonly chunker: FastCdc;
  /** How objects are named and sealed (docs/encryption.md). */
  readonly cipher: ObjectCipher;
  /** The key this process holds (an encrypted repository's), and which key object opened it. */
  readonly key: { readonly key: RepositoryKey; readonly opened?: string | undefined } | undefined;

  private constructor(storage: StorageBackend, prefix: string, config: V2Config, key?: RepositoryV2["key"]) {
    this.storage = storage;
    this.prefix = prefix;
    this.config = config;
    this.key = key;
    this.cipher = key ? ageCipher(key.key) : PLAIN;
    this.packs = new PackStore(storage, { prefix, packSize: config.packSize, cipher: this.cipher });
    this.chunker = new FastCdc(config.chunking);
  }

  /**
   * Creates a v2 repository under `prefix`; refuses when there is a config already. With `encryption`, a new master
   * key is made and stored as the first key object, wrapped as `encryption` says, before the config names it.
   */
  static async create(
    storage: StorageBackend,
    options: { prefix?: string; packSize?: number; chunking?: CdcParams; encryption?: KeyWrap } = {},
  ): Promise<RepositoryV2> {
    const prefix = options.prefix ?? "";
    if (await storage.head(`${prefix}config`)) throw new RepositoryExistsError(storage.description);
    const id = randomBytes(16).toString("hex");
    let key: RepositoryV2["key"];
    if (options.encryption) {
      const master = generateMasterKey(id);
      key = { key: master, opened: await addKeyObject(storage, prefix, master, options.encryption) };
    }
    const config: V2Config = {
      format: FORMAT_NAME,
      version: 2,
      id,
      created: new Date().toISOString(),
      hash: "sha256",
      chunking: { kind: "fastcdc", ...(options.chunking ?? DEFAULT_CDC) },
      compression: "zstd",
      packSize: options.packSize ?? 16 * 1024 * 1024,
      encryption: key ? { mode: "age", check: keyCheck(key.key) } : { mode: "none" },
    };
    const problem = v2ConfigProblem(config);
    if (problem) throw new BackupError("REPOSITORY_INVALID", `cannot create a v2 repository: ${problem}`);
    const body = Buffer.from(`${JSON.stringify(config, null, 2)}\n`);
    if (!(await putConfig(storage, `${prefix}config`, body))) {
      // Another process created the repository between our look and our write: its config stands, and the key
      // object made for ours (which that config's check would refuse) goes, so no key-by-key search finds it first.
      if (key?.opened) await storage.delete(`${prefix}keys/${key.opened}`).catch(() => undefined);
      throw new RepositoryExistsError(storage.description);
    }
    return new RepositoryV2(storage, prefix, config, key);
  }

  /** Opens the v2 repository under `prefix`; an encrypted one with the key `keys` gives (KEY_MISSING without). */
  static async open(storage: StorageBackend, options: { prefix?: string; keys?: KeySource } = {}): Promise<RepositoryV2> {
    const prefix = options.prefix ?? "";
    const key = `${prefix}config`;
    let bytes: Buffer;
    try {
      bytes = await collectStream(await storage.get(key), { limit: 1 << 20 });
    } catch (err) {
      if (err instanceof StorageError && err.code === "STORAGE_NOT_FOUND")
        throw new BackupError("REPOSITORY_INVALID", `no repository at ${storage.description}`);
      throw err;
    }
    let config: unknown;
    try {
      config = JSON.parse(bytes.toString("utf8"));
    } catch {
      throw new StorageError("INTEGRITY", `repository config ${key} is not JSON`, { key, transient: false });
    }
    const problem = v2ConfigProblem(config);
    if (problem) throw new BackupError("REPOSITORY_INVALID", `${key}: ${problem}`);
    const v2 = config as V2Config;
    if (v2.encryption.mode === "none") return new RepositoryV2(storage, prefix, v2);
    const unlocked = await unlockKey(storage, prefix, { id: v2.id, check: v2.encryption.check }, options.keys ?? {});
    return new RepositoryV2(storage, prefix, v2, unlocked);
  }

  /** The batches of one lane, in sequence order (from a listing). */
  async laneBatches(lane: string): Promise<LaneBatchName[]> {
    const out: LaneBatchName[] = [];
    for await (const info of this.storage.list(`${this.prefix}lanes/${lane}/batch/`)) {
      const name = parseLaneBatchKey(info.key.slice(this.prefix.length));
      if (name) out.push(name);
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  /**
   * Every lane with a `lane` object, and its batches in sequence order, from one listing of `lanes/` (the listing
   * returns both kinds of object: listing each lane again would read every batch name twice).
   */
  async lanes(): Promise<Map<string, LaneBatchName[]>> {
    const { described, batches } = await this.laneListing();
    return new Map([...described].map((lane) => [lane, batches.get(lane) ?? []]));
  }

  /** One listing of `lanes/`: the lanes with a `lane` object, and the batches of every lane (described or not) in order. */
  async laneListing(): Promise<{ described: Set<string>; batches: Map<string, LaneBatchName[]> }> {
    const described = new Set<string>();
    const all: LaneBatchName[] = [];
    for await (const info of this.storage.list(`${this.prefix}lanes/`)) {
      const key = info.key.slice(this.prefix.length);
      const lane = /^lanes\/([0-9a-f]{32})\/lane$/.exec(key)?.[1];
      if (lane) described.add(lane);
      else {
        const name = parseLaneBatchKey(key);
        if (name) all.push(name);
      }
    }
    const batches = new Map<string, LaneBatchName[]>();
    for (const name of all.sort((a, b) => a.seq - b.seq)) {
      let list = batches.get(name.lane);
      if (!list) batches.set(name.lane, (list = []));
      list.push(name);
    }
    return { described, batches };
  }

  /** Every base (docs/history.md "Prune"), oldest first. */
  bases(): Promise<BaseName[]> {
    return this.#listNames("index/base/", parseBaseKey);
  }

  /** The objects under `prefix` that `parse` names, oldest first (by time, then key). */
  async #listNames<T extends { readonly key: string; readonly time: number }>(prefix: string, parse: (key: string) => T | undefined): Promise<T[]> {
    const out: T[] = [];
    for await (const info of this.storage.list(`${this.prefix}${prefix}`)) {
      const name = parse(info.key.slice(this.prefix.length));
      if (name) out.push(name);
    }
    return out.sort((a, b) => a.time - b.time || (a.key < b.key ? -1 : 1));
  }

  /** One base, read and verified. */
  async readBase(name: BaseName): Promise<Base> {
    const key = this.prefix + name.key;
    return decodeBase(name, await collectStream(await this.storage.get(key)), key, this.cipher);
  }

  /** Stores a base (after everything it names is stored). */
  async writeBase(base: Base): Promise<BaseName> {
    const { body, key } = encodeBase(base, this.cipher);
    await this.storage.put(this.prefix + key, body, body.length);
    await this.storage.sync?.();
    return parseBaseKey(key)!;
  }

  /** One batch, read and verified (digest, header, count, records). */
  async readBatch(name: LaneBatchName): Promise<{ prev: string | null; blobs: StoredBlob[]; records: IndexRecord[] }> {
    const key = this.prefix + name.key;
    return decodeLaneBatch(name, await collectStream(await this.storage.get(key)), key, this.cipher);
  }

  /** Every checkpoint, oldest first (by time, then lane, then digest: key order). */
  checkpoints(): Promise<CheckpointName[]> {
    return this.#listNames("index/checkpoint/", parseCheckpointKey);
  }

  /** One checkpoint, read and verified. */
  async readCheckpoint(name: CheckpointName): Promise<ReturnType<typeof decodeCheckpointV2>> {
    return decodeCheckpointV2(name, await this.checkpointBytes(name), this.cipher);
  }

  /** A checkpoint's stored bytes, not yet opened or verified (`streamCheckpointV2` reads them). */
  async checkpointBytes(name: CheckpointName): Promise<Buffer> {
    return collectStream(await this.storage.get(this.prefix + name.key));
  }

  /**
   * Writes a checkpoint of `tree` (a merged tree: `checkpointOf` a `readTreeV2` tree, or a spill's) that covers, of
   * each lane, the batches up to `lanes`; `time` is the newest covered batch's time. Every blob the covered batches
   * located is carried, named by a file or not: a later batch may name a blob stored before the checkpoint
   * (deduplicated against it).
   */
  async writeCheckpoint(writer: string, tree: CheckpointSource, covered: { lanes: Readonly<Record<string, number>>; time: number }): Promise<CheckpointName> {
    const { body, key } = encodeCheckpointV2({ lane: writer, time: covered.time, lanes: covered.lanes }, tree, this.cipher);
    await this.storage.put(this.prefix + key, body, body.length);
    await this.storage.sync?.();
    return parseCheckpointKey(key)!;
  }

  /** A writer of lane `lane` whose last stored batch is known (`last`; none for a new lane): nothing is read. */
  lane(lane: string, last: LaneBatchName | undefined): LaneWriter {
    if (!LANE_ID.test(lane)) throw new RangeError(`not a lane id: ${JSON.stringify(lane)}`);
    return new LaneWriter(this, lane, last);
  }

  /** Writes lane `lane`'s `lane` object (who writes it), unless it is there. */
  async describeLane(lane: string, host: string): Promise<void> {
    const key = this.prefix + laneKey(lane);
    if (await this.storage.head(key)) return;
    const body = this.cipher.seal(Buffer.from(`${JSON.stringify({ lane, host, created: new Date().toISOString() })}\n`));
    await this.storage.put(key, body, body.length);
  }

  /** Lane `lane`'s `lane` object (who writes it), parsed; STORAGE_NOT_FOUND when there is none. */
  async laneInfo(lane: string): Promise<unknown> {
    const key = this.prefix + laneKey(lane);
    const plain = this.cipher.open(await collectStream(await this.storage.get(key)), key);
    try {
      return JSON.parse(plain.toString("utf8"));
    } catch (err) {
      throw new StorageError("INTEGRITY", `lane object ${key} is not JSON: ${messageOf(err)}`, { key, transient: false });
    }
  }

  /** A writer of the lane `lane` (16 random bytes, hex); the lane's `lane` object is written first when missing. */
  async openLane(lane: string = randomBytes(16).toString("hex"), host = "unknown"): Promise<LaneWriter> {
    if (!LANE_ID.test(lane)) throw new RangeError(`not a lane id: ${JSON.stringify(lane)}`);
    await this.describeLane(lane, host);
    const last = (await this.laneBatches(lane)).at(-1);
    return new LaneWriter(this, lane, last);
  }
}

/** What {@link LaneWriter.commit} may be told. */
export interface LaneCommitOptions {
  /** The batch's time (ms); never before the lane's last batch. Default: now. */
  readonly time?: number;
  /** Called with the encoded batch before it is stored (a writer records it, so that a crash stores it again). */
  readonly prepared?: (batch: { name: LaneBatchName; body: Buffer; blobs: readonly StoredBlob[] }) => Promise<void>;
}

/**
 * Appends to one lane. Only this writer writes there, so a commit is one put (no re-check, no rewrite): the packs
 * are flushed and made durable first, then the batch names their blobs and the records that use them. Blobs a
 * failed commit handed out stay with the writer and go into the next batch it stores: no record can name a blob no
 * batch locates. A batch whose put failed is stored again (the same bytes, the same key) before the next commit: a
 * put whose answer was lost never leaves two batches with one number.
 */
export class LaneWriter {
  readonly #repo: RepositoryV2;
  readonly lane: string;
  #last: LaneBatchName | undefined;
  #chain: Promise<void> = Promise.resolve();
  /** Blobs flushed (their packs stored) that no stored batch locates yet. */
  #unnamed: StoredBlob[] = [];
  /** The batch whose put failed: stored again, the same bytes, before any other. */
  #prepared: { name: LaneBatchName; body: Buffer; blobs: readonly StoredBlob[]; records: readonly IndexRecord[] } | undefined;

  constructor(repo: RepositoryV2, lane: string, last: LaneBatchName | undefined) {
    this.#repo = repo;
    this.lane = lane;
    this.#last = last;
  }

  /** The lane's last stored batch. */
  get last(): LaneBatchName | undefined {
    return this.#last;
  }

  /** Writes one batch: the blobs stored since the last commit, then `records`. Commits run one at a time. */
  commit(records: readonly IndexRecord[], options: LaneCommitOptions = {}): Promise<{ name: LaneBatchName; blobs: readonly StoredBlob[] }> {
    const next = this.#chain.then(() => this.#commit(records, options));
    this.#chain = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  async #commit(records: readonly IndexRecord[], options: LaneCommitOptions): Promise<{ name: LaneBatchName; blobs: readonly StoredBlob[] }> {
    // A put that failed may have landed all the same (a lost answer): the same bytes are stored again under the same
    // key before anything else, so the lane never holds two batches with one number.
    const unsure = this.#prepared;
    if (unsure) {
      await this.#put(unsure);
      if (unsure.records === records) return unsure;
    }
    const repo = this.#repo;
    this.#unnamed.push(...(await repo.packs.flush()));
    const blobs = this.#unnamed;
    const seq = this.#last ? this.#last.seq + 1 : 0;
    const time = Math.max(options.time ?? Date.now(), this.#last?.time ?? 0);
    const { body, digest } = encodeLaneBatch({ lane: this.lane, seq, time, prev: this.#last?.digest ?? null }, blobs, records, repo.cipher);
    const name = parseLaneBatchKey(laneBatchKey(this.lane, seq, time, digest))!;
    await options.prepared?.({ name, body, blobs });
    const batch = { name, body, blobs, records };
    this.#prepared = batch;
    await this.#put(batch);
    return batch;
  }

  async #put(batch: { name: LaneBatchName; body: Buffer }): Promise<void> {
    const repo = this.#repo;
    await repo.storage.put(repo.prefix + batch.name.key, batch.body, batch.body.length);
    await repo.storage.sync?.();
    this.#last = batch.name;
    this.#unnamed = [];
    this.#prepared = undefined;
  }

  /** Stores again a batch a crashed run encoded (its exact bytes; the same key), and makes it the lane's last. */
  async restore(name: LaneBatchName, body: Uint8Array): Promise<void> {
    const repo = this.#repo;
    await repo.storage.put(repo.prefix + name.key, Buffer.from(body), body.length);
    await repo.storage.sync?.();
    this.#last = name;
  }
}
