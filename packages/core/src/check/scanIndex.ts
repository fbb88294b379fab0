import { BackupError, StorageError, isErrno, messageOf } from "../errors.js";
import type { IndexObjectName } from "../repository/format.js";
import type { Repository } from "../repository/Repository.js";
import type { FileEntry } from "../types.js";
import type { CheckWarning, Damage } from "./CheckReport.js";

/** What the first pass over the index learned. */
export interface IndexScan {
  /** Every batch listed, in journal order, and every checkpoint listed, oldest first. */
  batches: IndexObjectName[];
  checkpoints: IndexObjectName[];
  /** Keys of the objects that could not be read or did not verify (reported in `damage`). */
  unreadable: Set<string>;
  /** Keys named in the `replaces` header of a readable batch. */
  replaced: Set<string>;
  /** Content ids named by readable objects → the size the index implies for them (-1 when it cannot tell). */
  chunks: Map<string, number>;
  /** Highest sequence number listed, batches and checkpoints together (-1 when none). */
  lastSequence: number;
  damage: Damage[];
  warnings: CheckWarning[];
}

/**
 * Whether an error while reading an object means the object is damaged rather than the store being unreachable:
 * an unreachable store (a transient or refused storage operation, a system error) is an operational failure, not
 * damage, and stops the check.
 */
export function isObjectDamage(err: unknown): boolean {
  if (err instanceof StorageError) return err.code !== "STORAGE_FAILED";
  if (err instanceof BackupError) return true;
  if (isErrno(err, "EACCES", "EIO", "EPERM", "ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "ENOTFOUND", "EMFILE", "ENFILE")) return false;
  // Anything else was thrown while decoding the object's bytes (bad JSON, bad gzip, a record of the wrong shape).
  return true;
}

/** Notes the chunks of an entry and the size the index implies for each (all but the last are `chunkSize`). */
function noteChunks(chunks: Map<string, number>, entry: FileEntry, chunkSize: number): void {
  const n = entry.chunks.length;
  const consistent = entry.type === "file" && n === Math.ceil(entry.size / chunkSize);
  entry.chunks.forEach((id, i) => {
    const size = consistent ? Math.min(chunkSize, entry.size - i * chunkSize) : -1;
    const known = chunks.get(id);
    if (known === undefined || known === -1) chunks.set(id, size);
  });
}

const describeTime = (ms: number) => (Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : String(ms));

/**
 * Pass 1 of a check: lists the whole journal and every checkpoint, reads and verifies each object (recording the
 * unreadable ones as damage naming their sequence number and time), collects `replaces` headers and every content id
 * a readable object names, and finds sequence numbers with no batch (from 0 to the highest batch or checkpoint).
 * Several live batches under one number are a warning, not damage: readers apply them all.
 */
export async function scanIndex(repo: Repository): Promise<IndexScan> {
  const chunkSize = repo.config.chunkSize;
  const batches: IndexObjectName[] = [];
  for await (const name of repo.listBatches(0)) batches.push(name);
  const checkpoints = await repo.listCheckpoints();
  const scan: IndexScan = { batches, checkpoints, unreadable: new Set(), replaced: new Set(), chunks: new Map(), lastSequence: -1, damage: [], warnings: [] };
  const unreadable = (kind: Damage["kind"], name: IndexObjectName, err: unknown) => {
    if (!isObjectDamage(err)) throw err;
    scan.unreadable.add(name.key);
    const what = kind === "batch-unreadable" ? "index batch" : "checkpoint";
    scan.damage.push({
      kind,
      key: name.key,
      seq: name.seq,
      time: name.time,
      message: `${what} ${name.seq} of ${describeTime(name.time)} (${name.key}) cannot be read: ${messageOf(err)}`,
    });
  };
  for (const name of batches) {
    try {
      const { header, records } = await repo.readBatch(name);
      for (const key of header.replaces ?? []) scan.replaced.add(key);
      for (const r of records) if (r.op === "put") noteChunks(scan.chunks, r, chunkSize);
    } catch (err) {
      unreadable("batch-unreadable", name, err);
    }
  }
  for (const name of checkpoints) {
    // A checkpoint is verified only once its last entry is read: its chunks count only then.
    const found = new Map<string, number>();
    try {
      for await (const entry of repo.readCheckpoint(name)) noteChunks(found, entry, chunkSize);
      for (const [id, size] of found) if ((scan.chunks.get(id) ?? -1) === -1) scan.chunks.set(id, size);
    } catch (err) {
      unreadable("checkpoint-unreadable", name, err);
    }
  }
  findGaps(scan);
  const live = new Map<number, string[]>();
  for (const b of batches) if (!scan.replaced.has(b.key)) live.set(b.seq, [...(live.get(b.seq) ?? []), b.key]);
  for (const [seq, keys] of live) {
    if (keys.length < 2) continue;
    scan.warnings.push({
      kind: "duplicate-sequence",
      seq,
      keys,
      message: `sequence number ${seq} carries ${keys.length} batches that no later batch replaces (several writers; readers apply them all, and no checkpoint covers them until their writer rewrites its batch)`,
    });
  }
  return scan;
}

/** Records every run of sequence numbers from 0 to the highest listed (batch or checkpoint) with no batch. */
function findGaps(scan: IndexScan): void {
  const seqs = new Set(scan.batches.map((b) => b.seq));
  const top = [...scan.batches, ...scan.checkpoints].reduce((m, o) => Math.max(m, o.seq), -1);
  scan.lastSequence = top;
  for (let seq = 0; seq <= top; seq++) {
    if (seqs.has(seq)) continue;
    let to = seq;
    while (to + 1 <= top && !seqs.has(to + 1)) to++;
    const next = scan.batches.find((b) => b.seq > to);
    const beyond = scan.checkpoints.filter((c) => c.seq >= seq).map((c) => c.key);
    const which = seq === to ? `batch ${seq} is` : `batches ${seq}..${to} are`;
    const after = next ? `next is ${next.key}` : beyond.length ? `checkpoint ${beyond.at(-1)} covers them, so the newest batches are gone` : "";
    scan.damage.push({
      kind: "sequence-gap",
      missing: { from: seq, to },
      message: `the index has a gap: ${which} missing${after ? ` (${after})` : ""}`,
    });
    seq = to;
  }
}
