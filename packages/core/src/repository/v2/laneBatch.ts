import { gunzipSync, gzipSync } from "node:zlib";
import { StorageError } from "../../errors.js";
import type { FileEntry, IndexRecord } from "../../types.js";
import { MAX_BATCH_BYTES, asRecord } from "../format.js";
import { laneHeaderProblem, type LaneBatchHeader, type LaneBatchName } from "./lanes.js";
import { PackError, blobEntryOf } from "./pack.js";
import type { StoredBlob } from "./PackStore.js";
import type { ObjectCipher } from "./cipher.js";

const PACK_ID = /^[0-9a-f]{64}$/;
/** About how much text a checkpoint compresses at once (one gzip member). */
const PART_CHARS = 1 << 20;

/** The `blob` line of a batch or a checkpoint: where one blob is. */
function blobLine(b: StoredBlob): string {
  return JSON.stringify({ op: "blob", id: b.id, pack: b.pack, offset: b.offset, length: b.length, size: b.size, codec: b.codec });
}

/**
 * The stored bytes of a v2 batch (gzip of JSON lines: header, `blob` records, then the records; sealed when the
 * repository is encrypted) and the digest of the plain bytes.
 */
export function encodeLaneBatch(
  at: Pick<LaneBatchHeader, "lane" | "seq" | "time" | "prev">,
  blobs: readonly StoredBlob[],
  records: readonly IndexRecord[],
  cipher: ObjectCipher,
): { body: Buffer; digest: string } {
  const header: LaneBatchHeader = { v: 2, kind: "batch", lane: at.lane, seq: at.seq, time: at.time, count: blobs.length + records.length, prev: at.prev };
  const lines = [JSON.stringify(header)];
  for (const b of blobs) lines.push(blobLine(b));
  for (const r of records) lines.push(JSON.stringify(r));
  const plain = gzipSync(Buffer.from(`${lines.join("\n")}\n`), { level: 1 });
  return { body: cipher.seal(plain), digest: cipher.digest(plain) };
}

/**
 * A reader of the lines after an index object's header (line `i`, 1-based after the header, parsed JSON): a `blob`
 * line as a {@link StoredBlob}, anything else as a checked record. A blob after a record is corrupt (`afterRecords`).
 * Pack ids are shared strings: an index names few packs many times (a million blob lines held by a prune).
 */
export function indexLineReader(key: string, corrupt: (why: string) => never): (value: unknown, i: number, afterRecords: boolean) => StoredBlob | IndexRecord {
  const packs = new Map<string, string>();
  return (parsed, i, afterRecords) => {
    const value = parsed as Record<string, unknown>;
    if (value?.op !== "blob") return asRecord(value, `index object ${key} record ${i}`);
    if (afterRecords) corrupt(`line ${i + 1}: a blob after the records (blobs come first)`);
    try {
      const entry = blobEntryOf(value, `line ${i + 1}`);
      if (typeof value.pack !== "string" || !PACK_ID.test(value.pack)) throw new PackError(`line ${i + 1}: pack is not a pack id`);
      let pack = packs.get(value.pack);
      if (pack === undefined) packs.set(value.pack, (pack = value.pack));
      return { id: entry.id, offset: entry.offset, length: entry.length, size: entry.size, codec: entry.codec, pack };
    } catch (err) {
      return corrupt((err as Error).message);
    }
  };
}

/** Reads a v2 batch: digest, size limit, header against the name, count, each `blob` and record checked. */
export function decodeLaneBatch(
  name: LaneBatchName,
  bytes: Buffer,
  key: string,
  cipher: ObjectCipher,
): { prev: string | null; blobs: StoredBlob[]; records: IndexRecord[] } {
  const { header, blobs, records } = decodeLines(name, bytes, key, cipher, (h) => laneHeaderProblem(h, name));
  return { prev: (header as LaneBatchHeader).prev, blobs, records };
}

/**
 * An index object's plain (gzip) bytes: opened when sealed, and its digest checked against its name over all of them
 * (keyed, when encrypted: an object nobody with the repository secret wrote is refused).
 */
export function openIndexObject(stored: Buffer, key: string, digest: string, cipher: ObjectCipher, corrupt: (why: string) => never): Buffer {
  const bytes = cipher.open(stored, `index object ${key}`);
  if (cipher.digest(bytes) !== digest)
    corrupt(
      cipher.encrypted ? "its keyed digest does not match its name (altered, or not written with this repository's key)" : "its bytes do not hash to its name",
    );
  return bytes;
}

/**
 * The lines of a v2 index object (a batch or a checkpoint): opened (when sealed), its digest checked against its
 * name (keyed, when encrypted: an object nobody with the repository secret wrote is refused), at most
 * MAX_BATCH_BYTES inflated, the header checked by `headerProblem` and against the line count, then `blob` lines
 * (first) and records, each checked.
 */
function decodeLines(
  name: { readonly digest: string },
  stored: Buffer,
  key: string,
  cipher: ObjectCipher,
  headerProblem: (header: unknown) => string | undefined,
): { header: unknown; blobs: StoredBlob[]; records: IndexRecord[] } {
  const corrupt = (why: string): never => {
    throw new StorageError("INTEGRITY", `index object ${key} is corrupt: ${why}`, { key, transient: false });
  };
  const bytes = openIndexObject(stored, key, name.digest, cipher, corrupt);
  let text = "";
  try {
    text = gunzipSync(bytes, { maxOutputLength: MAX_BATCH_BYTES }).toString("utf8");
  } catch (err) {
    corrupt(`it does not decompress (${(err as Error).message})`);
  }
  if (!text.endsWith("\n")) corrupt("it does not end with a newline");
  const lines = text.slice(0, -1).split("\n");
  const parse = (line: string, n: number): unknown => {
    try {
      return JSON.parse(line);
    } catch {
      return corrupt(`line ${n + 1} is not JSON`);
    }
  };
  const header = parse(lines[0]!, 0) as { count?: unknown };
  const problem = headerProblem(header);
  if (problem) corrupt(problem);
  if (header.count !== lines.length - 1) corrupt(`its header counts ${String(header.count)} lines, it has ${lines.length - 1}`);
  const blobs: StoredBlob[] = [];
  const records: IndexRecord[] = [];
  const line = indexLineReader(key, corrupt);
  for (let i = 1; i < lines.length; i++) {
    const item = line(parse(lines[i]!, i), i, records.length > 0);
    if ("op" in item) records.push(item);
    else blobs.push(item);
  }
  return { header, blobs, records };
}

const CHECKPOINT = /^index\/checkpoint\/(\d{13})-([0-9a-f]{32})-([0-9a-f]{64})$/;

/** The name of a v2 checkpoint: `index/checkpoint/<time>-<lane>-<digest>`. */
export interface CheckpointName {
  readonly key: string;
  readonly time: number;
  readonly lane: string;
  readonly digest: string;
}

/** The parts of a checkpoint key; undefined for anything else. */
export function parseCheckpointKey(key: string): CheckpointName | undefined {
  const m = CHECKPOINT.exec(key);
  return m ? { key, time: Number(m[1]), lane: m[2]!, digest: m[3]! } : undefined;
}

/** What a checkpoint holds: every blob located and every entry, each counted first (the header states the count). */
export interface CheckpointSource {
  readonly blobs: Iterable<StoredBlob>;
  readonly blobCount: number;
  readonly entries: Iterable<FileEntry>;
  readonly entryCount: number;
}

/** A tree held as Maps, as a checkpoint's source. */
export function checkpointOf(tree: { readonly entries: ReadonlyMap<string, FileEntry>; readonly blobs: ReadonlyMap<string, StoredBlob> }): CheckpointSource {
  return { blobs: tree.blobs.values(), blobCount: tree.blobs.size, entries: tree.entries.values(), entryCount: tree.entries.size };
}

/**
 * A checkpoint's bytes: header (with the last batch it covers of each lane), the blobs its files name, the puts.
 * `blobCount` and `entryCount` are how many `tree` yields (the header states the count first). The lines are compressed a MiB at
 * a time, each part a gzip member of its own (RFC 1952: a gzip file is a series of members; gunzip reads them as one
 * text), so the whole text of a tree is never held: for a million entries that was about 0.8 GB at once.
 */
export function encodeCheckpointV2(
  at: { lane: string; time: number; lanes: Readonly<Record<string, number>> },
  tree: CheckpointSource,
  cipher: ObjectCipher,
): { body: Buffer; digest: string; key: string } {
  const { blobCount, entryCount } = tree;
  const header = { v: 2, kind: "checkpoint", lane: at.lane, time: at.time, count: blobCount + entryCount, lanes: at.lanes };
  const members: Buffer[] = [];
  let part: string[] = [JSON.stringify(header)];
  let partLength = 0;
  let written = 0;
  let located = 0;
  const add = (line: string) => {
    part.push(line);
    partLength += line.length;
    if (partLength < PART_CHARS) return;
    members.push(gzipSync(`${part.join("\n")}\n`));
    part = [];
    partLength = 0;
  };
  for (const b of tree.blobs) {
    add(blobLine(b));
    located++;
  }
  for (const e of tree.entries) {
    add(JSON.stringify({ op: "put", ...e }));
    written++;
  }
  if (located !== blobCount) throw new RangeError(`a checkpoint was told of ${blobCount} blobs and given ${located}`);
  if (written !== entryCount) throw new RangeError(`a checkpoint was told of ${entryCount} entries and given ${written}`);
  if (part.length > 0) members.push(gzipSync(`${part.join("\n")}\n`));
  const plain = Buffer.concat(members);
  const digest = cipher.digest(plain);
  return { body: cipher.seal(plain), digest, key: `index/checkpoint/${String(at.time).padStart(13, "0")}-${at.lane}-${digest}` };
}

/** Reads a v2 checkpoint whole: digest, header against the name, the covered lanes, then its blobs and puts. */
export function decodeCheckpointV2(
  name: CheckpointName,
  bytes: Buffer,
  cipher: ObjectCipher,
): { lanes: Record<string, number>; blobs: StoredBlob[]; entries: FileEntry[] } {
  const corrupt = checkpointCorrupt(name);
  let header: CheckpointHeader | undefined;
  const { blobs, records } = decodeLines(name, bytes, name.key, cipher, (h) => {
    header = checkpointHeader(h, name, corrupt);
    return undefined;
  });
  return { lanes: header!.lanes, blobs, entries: records.map((r) => checkpointPut(r, corrupt)) };
}

/** What refuses a corrupt checkpoint: an INTEGRITY error naming it and what is wrong. */
export function checkpointCorrupt(name: CheckpointName): (why: string) => never {
  return (why) => {
    throw new StorageError("INTEGRITY", `checkpoint ${name.key} is corrupt: ${why}`, { key: name.key, transient: false });
  };
}

/** A checkpoint's header: the last batch it covers of each lane, the newest covered batch's time, its line count. */
export interface CheckpointHeader {
  readonly lanes: Record<string, number>;
  readonly time: number;
  readonly count: number;
}

/** A checkpoint's header line, checked against its name. */
export function checkpointHeader(value: unknown, name: CheckpointName, corrupt: (why: string) => never): CheckpointHeader {
  const header = (value ?? {}) as Record<string, unknown>;
  if (header.v !== 2 || header.kind !== "checkpoint") corrupt("its header is not a v2 checkpoint's");
  if (header.lane !== name.lane || header.time !== name.time) corrupt("its header does not match its name");
  if (!Number.isSafeInteger(header.count) || (header.count as number) < 0) corrupt("its header's count is not a count");
  const lanes = header.lanes as Record<string, unknown>;
  if (
    typeof lanes !== "object" ||
    lanes === null ||
    !Object.entries(lanes).every(([l, s]) => /^[0-9a-f]{32}$/.test(l) && Number.isSafeInteger(s) && (s as number) >= 0)
  ) {
    corrupt("its header's lanes are not lane ids with sequence numbers");
  }
  return { lanes: lanes as Record<string, number>, time: name.time, count: header.count as number };
}

/** A checkpoint's record line as an entry (a checkpoint holds only puts). */
export function checkpointPut(record: IndexRecord, corrupt: (why: string) => never): FileEntry {
  if (record.op !== "put") corrupt(`it holds a ${record.op} record (a checkpoint holds only puts)`);
  const { op: _op, ...entry } = record as Extract<IndexRecord, { op: "put" }>;
  return entry;
}
