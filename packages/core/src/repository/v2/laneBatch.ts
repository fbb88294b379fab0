import { createHash } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { StorageError } from "../../errors.js";
import type { IndexRecord } from "../../types.js";
import { MAX_BATCH_BYTES, asRecord } from "../format.js";
import { laneHeaderProblem, type LaneBatchHeader, type LaneBatchName } from "./lanes.js";
import { PackError, blobEntryOf } from "./pack.js";
import type { StoredBlob } from "./PackStore.js";

const PACK_ID = /^[0-9a-f]{64}$/;

/** The bytes of a v2 batch (gzip of JSON lines: header, `blob` records, then the records) and their digest. */
export function encodeLaneBatch(
  at: Pick<LaneBatchHeader, "lane" | "seq" | "time" | "prev">,
  blobs: readonly StoredBlob[],
  records: readonly IndexRecord[],
): { body: Buffer; digest: string } {
  const header: LaneBatchHeader = { v: 2, kind: "batch", lane: at.lane, seq: at.seq, time: at.time, count: blobs.length + records.length, prev: at.prev };
  const lines = [JSON.stringify(header)];
  for (const b of blobs) lines.push(JSON.stringify({ op: "blob", id: b.id, pack: b.pack, offset: b.offset, length: b.length, size: b.size, codec: b.codec }));
  for (const r of records) lines.push(JSON.stringify(r));
  const body = gzipSync(Buffer.from(`${lines.join("\n")}\n`));
  return { body, digest: createHash("sha256").update(body).digest("hex") };
}

/** Reads a v2 batch: digest, size limit, header against the name, count, each `blob` and record checked. */
export function decodeLaneBatch(name: LaneBatchName, bytes: Buffer, key: string): { prev: string | null; blobs: StoredBlob[]; records: IndexRecord[] } {
  const corrupt = (why: string): never => {
    throw new StorageError("INTEGRITY", `index batch ${key} is corrupt: ${why}`, { key, transient: false });
  };
  if (createHash("sha256").update(bytes).digest("hex") !== name.digest) corrupt("its bytes do not hash to its name");
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
  const header = parse(lines[0]!, 0) as LaneBatchHeader;
  const problem = laneHeaderProblem(header, name);
  if (problem) corrupt(problem);
  if (header.count !== lines.length - 1) corrupt(`its header counts ${header.count} lines, it has ${lines.length - 1}`);
  const blobs: StoredBlob[] = [];
  const records: IndexRecord[] = [];
  for (let i = 1; i < lines.length; i++) {
    const value = parse(lines[i]!, i) as Record<string, unknown>;
    if (value?.op !== "blob") {
      records.push(asRecord(value, `index batch ${key} record ${i}`));
      continue;
    }
    if (records.length > 0) corrupt(`line ${i + 1}: a blob after the records (blobs come first)`);
    try {
      const entry = blobEntryOf(value, `line ${i + 1}`);
      if (typeof value.pack !== "string" || !PACK_ID.test(value.pack)) throw new PackError(`line ${i + 1}: pack is not a pack id`);
      blobs.push({ ...entry, pack: value.pack });
    } catch (err) {
      corrupt((err as Error).message);
    }
  }
  return { prev: header.prev, blobs, records };
}
