import { MAX_OWNER_NAME, isOwnerName } from "../owners/OwnerNames.js";
import { createHash } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { BackupError, StorageError } from "../errors.js";
import type { FileEntry, IndexRecord } from "../types.js";
import { xattrsProblem } from "../xattrs/xattrs.js";
import { ENTRY_TYPES } from "../entryTypes.js";
import { isUnder } from "../mounts/mountPaths.js";

/** Repository format version written by this code. Readers refuse versions they do not know. */
export const FORMAT_VERSION = 1;
/** The `format` field of the config object. */
export const FORMAT_NAME = "rtb-repository";
/** Batch sequence numbers per index group directory (see docs/format.md). */
export const BATCH_GROUP_SIZE = 10_000;

/** The repository's `config` object. */
export interface RepositoryConfig {
  format: typeof FORMAT_NAME;
  version: number;
  /** Random id, so a state cache can tell which repository it belongs to. */
  id: string;
  created: string;
  /** Content hash: `sha256` (plaintext) in v1. */
  hash: "sha256";
  /** Files larger than this are split into fixed-size chunks of this size. */
  chunkSize: number;
}

/** Header line of a batch or checkpoint object. */
export interface IndexHeader {
  v: number;
  kind: "batch" | "checkpoint";
  seq: number;
  time: number;
  count: number;
  /**
   * Batches only: keys of batches this one supersedes (a writer that found its batch sharing a sequence number
   * with another writer's wrote its records again under a higher number). Readers skip every replaced batch.
   */
  replaces?: string[];
}

/**
 * Reading limits (docs/format.md "Limits"): what a reader decompresses of one batch object, the longest record line
 * (a put of a 1 TiB file at 8 MiB chunks is about 9 MB), and the most entries a checkpoint may declare. An object
 * past any of them is corrupt (an INTEGRITY error naming it), so a decompression bomb cannot exhaust memory.
 */
export const MAX_BATCH_BYTES = 256 * 1024 * 1024;
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;
export const MAX_CHECKPOINT_ENTRIES = 100_000_000;

/** Largest uid/gid an index may carry: 2^32 − 2 (2^32 − 1 is "no change" to chown(2)). */
export const MAX_OWNER_ID = 4_294_967_294;
/** Largest device major or minor number (glibc's dev_t holds 32 bits of each). */
export const MAX_DEVICE_NUMBER = 4_294_967_295;
/** Chunk sizes a repository may have (its `config`), the one rule the config loader and readers share. */
export const MIN_CHUNK_SIZE = 4096;
export const MAX_CHUNK_SIZE = 1024 * 1024 * 1024;

/** Why `n` cannot be a repository's chunk size, or `undefined` when it can. */
export function chunkSizeProblem(n: unknown): string | undefined {
  if (typeof n !== "number" || !Number.isInteger(n)) return `chunk size ${JSON.stringify(n)} is not an integer`;
  if (n < MIN_CHUNK_SIZE || n > MAX_CHUNK_SIZE) return `chunk size ${n} is outside ${MIN_CHUNK_SIZE} (4 KiB) to ${MAX_CHUNK_SIZE} (1 GiB) bytes`;
  return undefined;
}

/** Hex SHA-256 of bytes. */
export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Key of a content object (chunk), relative to the repository prefix. */
export function dataKey(id: string): string {
  return `data/${id.slice(0, 2)}/${id}`;
}

const pad = (n: number, width: number) => String(n).padStart(width, "0");

/** Group directory of a batch sequence number. */
export function batchGroup(seq: number): string {
  return `index/batch/${groupName(seq)}/`;
}

/** The group directory name of a sequence number: floor(seq / 10,000), 8 digits (v1's journal and v2's lanes). */
export function groupName(seq: number): string {
  return pad(Math.floor(seq / BATCH_GROUP_SIZE), 8);
}

/** Key of a batch object: the group, then `<seq>-<time>-<sha256 of the stored bytes>`. */
export function batchKey(seq: number, time: number, digest: string): string {
  return `${batchGroup(seq)}${pad(seq, 12)}-${pad(time, 13)}-${digest}`;
}

/** Key of a checkpoint covering every batch up to and including `seq`. */
export function checkpointKey(seq: number, time: number, digest: string): string {
  return `index/checkpoint/${pad(seq, 12)}-${pad(time, 13)}-${digest}`;
}

/** Parsed name of a batch or checkpoint key. */
export interface IndexObjectName {
  key: string;
  seq: number;
  time: number;
  digest: string;
}

/** Journal order of index objects: sequence number, then time, then digest. */
export function compareIndexNames(a: IndexObjectName, b: IndexObjectName): number {
  return a.seq - b.seq || a.time - b.time || (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0);
}

const NAME_RE = /(\d{12})-(\d{13})-([0-9a-f]{64})$/;

/** Parses the last path segment of an index object key; `undefined` for foreign objects. */
export function parseIndexKey(key: string): IndexObjectName | undefined {
  const m = NAME_RE.exec(key);
  if (!m) return undefined;
  return { key, seq: Number(m[1]), time: Number(m[2]), digest: m[3]! };
}

/** Encodes an index object: gzip of JSON lines, the header first. Returns the bytes and their digest. */
export function encodeIndexObject(header: IndexHeader, lines: Iterable<unknown>): { body: Buffer; digest: string } {
  const parts = [JSON.stringify(header)];
  for (const line of lines) parts.push(JSON.stringify(line));
  const body = gzipSync(Buffer.from(`${parts.join("\n")}\n`), { level: 6 });
  return { body, digest: sha256Hex(body) };
}

/**
 * Decodes and verifies an index object. The digest in its name must match the stored bytes, the gzip stream must be
 * complete and the line count must match the header, otherwise the object is named in an INTEGRITY error.
 */
export function decodeIndexObject(name: IndexObjectName, bytes: Buffer): { header: IndexHeader; lines: unknown[] } {
  const fail = (why: string): never => {
    throw new StorageError("INTEGRITY", `index object ${name.key} is corrupt: ${why}`, { key: name.key, transient: false });
  };
  if (sha256Hex(bytes) !== name.digest) fail(`SHA-256 of its ${bytes.length} bytes does not match its name`);
  let text: string;
  try {
    text = gunzipSync(bytes, { maxOutputLength: MAX_BATCH_BYTES }).toString("utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") return fail(`it decompresses to more than ${MAX_BATCH_BYTES} bytes`);
    return fail(`gzip: ${(err as Error).message}`);
  }
  const rows = text.split("\n");
  if (rows.pop() !== "") fail("truncated (no final newline)");
  let header: IndexHeader;
  try {
    header = JSON.parse(rows[0] ?? "") as IndexHeader;
  } catch {
    return fail("bad header line");
  }
  if (header.v !== FORMAT_VERSION) {
    throw new BackupError("REPOSITORY_VERSION", `index object ${name.key} has version ${header.v}; this reader knows ${FORMAT_VERSION}`);
  }
  const problem = headerProblem(header, name, "batch");
  if (problem) fail(problem);
  if (header.count !== rows.length - 1) fail(`header says ${header.count} records, found ${rows.length - 1}`);
  const lines: unknown[] = [];
  for (let i = 1; i < rows.length; i++) {
    try {
      lines.push(JSON.parse(rows[i]!));
    } catch {
      fail(`record ${i} is not JSON`);
    }
  }
  return { header, lines };
}

/**
 * Why a decoded header (its `v` already checked) cannot be the header of the object `name` of this `kind`, or
 * `undefined` when it can: the kind, sequence number and time must be those of the object's name, `count` an entry
 * count (at most {@link MAX_CHECKPOINT_ENTRIES}), and a batch's `replaces` a list of batch keys.
 */
export function headerProblem(header: unknown, name: IndexObjectName, kind: IndexHeader["kind"]): string | undefined {
  if (typeof header !== "object" || header === null || Array.isArray(header)) return "the header is not an object";
  const h = header as Record<string, unknown>;
  if (h.kind !== kind) return `header kind ${JSON.stringify(h.kind)} is not "${kind}"`;
  if (h.seq !== name.seq) return `header seq ${JSON.stringify(h.seq)} does not match its name (${name.seq})`;
  if (h.time !== name.time) return `header time ${JSON.stringify(h.time)} does not match its name (${name.time})`;
  if (!Number.isInteger(h.count) || (h.count as number) < 0 || (h.count as number) > MAX_CHECKPOINT_ENTRIES) {
    return `header count ${JSON.stringify(h.count)} is not an entry count of at most ${MAX_CHECKPOINT_ENTRIES}`;
  }
  if (h.replaces !== undefined && (kind !== "batch" || !Array.isArray(h.replaces) || !h.replaces.every((k) => typeof k === "string" && parseIndexKey(k)))) {
    return `header replaces ${JSON.stringify(h.replaces).slice(0, 200)} is not a list of batch keys`;
  }
  return undefined;
}

/**
 * Checks that a decoded record has the shape of an {@link IndexRecord}; returns it or throws naming the object, the
 * record and the field. With the repository's `chunkSize`, a file's chunk count must also be the one its size
 * gives (`ceil(size / chunkSize)`: no chunk for an empty file).
 */
export function asRecord(value: unknown, where: string, chunkSize?: number): IndexRecord {
  const r = value as Record<string, unknown>;
  const bad = (why: string): never => {
    throw new StorageError("INTEGRITY", `${where}: ${why}`, { transient: false });
  };
  if (typeof r !== "object" || r === null) bad("record is not an object");
  if (r.op === "put") {
    if (typeof r.path !== "string") bad("put without a path");
    if (!ENTRY_TYPES.has(r.type as string)) bad(`put ${String(r.path)}: bad type`);
    if (!Array.isArray(r.chunks) || !r.chunks.every((c) => typeof c === "string" && /^[0-9a-f]{64}$/.test(c))) {
      bad(`put ${String(r.path)}: bad chunk list`);
    }
    const what = `put ${JSON.stringify(r.path)}`;
    for (const f of ["size", "mtimeMs", "mode", "uid", "gid"]) if (typeof r[f] !== "number" || !Number.isFinite(r[f])) bad(`${what}: ${f} is not a number`);
    const int = (f: string, max: number, meaning: string) => {
      const problem = intProblem(r, f, max, meaning);
      if (problem) bad(`${what}: ${problem}`);
    };
    int("mode", 0o7777, "permission bits (an integer from 0 to 07777)");
    int("uid", MAX_OWNER_ID, `a user id (an integer from 0 to ${MAX_OWNER_ID})`);
    int("gid", MAX_OWNER_ID, `a group id (an integer from 0 to ${MAX_OWNER_ID})`);
    int("size", Number.MAX_SAFE_INTEGER, "a size in bytes");
    if (r.type === "symlink" && typeof r.target !== "string") bad(`${what}: a symlink without a string target`);
    if (r.type !== "file" && (r.chunks as unknown[]).length > 0) bad(`${what}: a ${String(r.type)} with content chunks`);
    for (const f of ["user", "group"]) {
      if (r[f] !== undefined && !isOwnerName(r[f]))
        bad(`${what}: ${f} ${JSON.stringify(r[f]).slice(0, 80)} is not a name (1 to ${MAX_OWNER_NAME} characters, no NUL, newline or colon)`);
    }
    if (r.inode !== undefined || r.links !== undefined) {
      if (r.type !== "file") bad(`${what}: a ${String(r.type)} with hard-link fields (inode, links)`);
      int("inode", Number.MAX_SAFE_INTEGER, "an inode number");
      if (r.links !== undefined) {
        int("links", MAX_OWNER_ID, "a link count");
        if ((r.links as number) < 2) bad(`${what}: links ${JSON.stringify(r.links)} is not a count of two or more names`);
      }
    }
    const problem = deviceAndXattrsProblem(r);
    if (problem) bad(`${what}: ${problem}`);
    if (r.type === "file" && chunkSize !== undefined) {
      const expected = Math.ceil((r.size as number) / chunkSize);
      const n = (r.chunks as unknown[]).length;
      if (n !== expected) bad(`${what}: size ${r.size as number} needs ${expected} chunk(s) of ${chunkSize} bytes, the record has ${n}`);
    }
    return r as unknown as IndexRecord;
  }
  if (r.op === "move") {
    if (typeof r.from !== "string" || typeof r.to !== "string") bad("move without from/to");
    return r as unknown as IndexRecord;
  }
  if (r.op === "delete") {
    if (typeof r.path !== "string") bad("delete without a path");
    return r as unknown as IndexRecord;
  }
  return bad(`unknown op ${JSON.stringify(r.op)}`);
}

/** Why field `f` of a record is not an integer from 0 to `max` (`meaning` says what it should be), if it is not. */
function intProblem(r: Record<string, unknown>, f: string, max: number, meaning: string): string | undefined {
  const v = r[f];
  return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= max ? undefined : `${f} ${JSON.stringify(v)} is not ${meaning}`;
}

/** Why a put's device numbers (required on devices, absent elsewhere) or `xattrs` are wrong, if they are. */
function deviceAndXattrsProblem(r: Record<string, unknown>): string | undefined {
  if (r.type === "chardev" || r.type === "blockdev") {
    const problem = intProblem(r, "major", MAX_DEVICE_NUMBER, "a device major number") ?? intProblem(r, "minor", MAX_DEVICE_NUMBER, "a device minor number");
    if (problem) return problem;
  } else if (r.major !== undefined || r.minor !== undefined) return `a ${String(r.type)} with device numbers (major, minor)`;
  return r.xattrs === undefined ? undefined : xattrsProblem(r.xattrs);
}

/** A put record for an entry. */
export function putRecord(entry: FileEntry): IndexRecord {
  return { op: "put", ...entry };
}

/**
 * True for a move that changes nothing: onto itself, or one that rename(2) refuses (a directory into its own subtree,
 * or onto one of its ancestors, `/` included). The agent never records the last two; a hostile index may. Every
 * reader of the index (the tree in memory or on disk, the state cache, versions, prune, check) ignores them alike.
 */
export function isNoOpMove(from: string, to: string): boolean {
  return isUnder(to, from) || isUnder(from, to);
}

/**
 * Applies one record to an in-memory view of the tree. A move or delete of a directory takes its whole subtree.
 * This is the single definition of the index's semantics; restore, listing and state-cache rebuilds all use it.
 */
export function applyRecord(tree: Map<string, FileEntry>, record: IndexRecord): void {
  switch (record.op) {
    case "put": {
      const { op: _op, ...entry } = record;
      tree.set(entry.path, entry);
      return;
    }
    case "delete": {
      const existing = tree.get(record.path);
      tree.delete(record.path);
      if (existing && existing.type !== "dir") return;
      const prefix = `${record.path}/`;
      for (const path of tree.keys()) if (path.startsWith(prefix)) tree.delete(path);
      return;
    }
    case "move": {
      if (isNoOpMove(record.from, record.to)) return;
      const single = tree.get(record.from);
      if (single && single.type !== "dir") {
        applyRecord(tree, { op: "delete", path: record.to });
        tree.delete(record.from);
        tree.set(record.to, { ...single, path: record.to });
        return;
      }
      const moved: FileEntry[] = [];
      const prefix = `${record.from}/`;
      for (const [path, entry] of tree) {
        if (path === record.from || path.startsWith(prefix)) moved.push(entry);
      }
      // The destination is replaced, as rename(2) replaces it.
      applyRecord(tree, { op: "delete", path: record.to });
      for (const entry of moved) {
        tree.delete(entry.path);
        const path = record.to + entry.path.slice(record.from.length);
        tree.set(path, { ...entry, path });
      }
      return;
    }
  }
}
