// A checkpoint of a large tree: written as a series of gzip members, read whole or a piece at a time.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { gunzipSync, gzipSync } from "node:zlib";
import type { FileEntry } from "@rtbackup/core";
import { PLAIN, decodeCheckpointV2, encodeCheckpointV2, parseCheckpointKey, streamCheckpointV2, type CheckpointPart } from "@rtbackup/core/v2";
import { sha256Hex } from "@rtbackup/core";
import { rejectsWith } from "./helpers/encrypted.js";

const LANE = "a".repeat(32);
const at = { lane: LANE, time: 1_700_000_000_000, lanes: { [LANE]: 3 } };
const entries: FileEntry[] = Array.from({ length: 12_000 }, (_, i) => ({
  // Two- and four-byte UTF-8 characters, so that some fall across the pieces the stream is cut into.
  path: `/data/${"é".repeat(30)}😀/file-${i}`,
  type: "file",
  size: i,
  mtimeMs: 1.7e12 + i,
  mode: 0o644,
  uid: 1000,
  gid: 1000,
  chunks: [i.toString(16).padStart(64, "0")],
}));
const blobs = entries
  .slice(0, 50)
  .map((e, i) => ({ id: e.chunks[0]!, pack: "b".repeat(64), offset: 8 + i * 100, length: i + 1, size: i + 1, codec: "none" as const }));
const source = () => ({ blobs, blobCount: blobs.length, entries, entryCount: entries.length });

/** Streams a checkpoint, collecting its parts. */
async function stream(body: Buffer, key: string, header: (lanes: Record<string, number>) => boolean = () => true) {
  const parts: CheckpointPart[] = [];
  const read = await streamCheckpointV2(parseCheckpointKey(key)!, body, PLAIN, { header: (h) => header(h.lanes), part: (p) => parts.push(p) });
  return { read, parts, blobs: parts.flatMap((p) => p.blobs), entries: parts.flatMap((p) => p.entries) };
}

/** A checkpoint object made of `text` as it is, under the key its bytes hash to. */
function raw(text: string): { body: Buffer; key: string } {
  const body = gzipSync(text);
  return { body, key: `index/checkpoint/${String(at.time).padStart(13, "0")}-${LANE}-${sha256Hex(body)}` };
}
const headerLine = (count: number) => JSON.stringify({ v: 2, kind: "checkpoint", lane: LANE, time: at.time, count, lanes: at.lanes });

test("a checkpoint larger than a MiB of text is written as several gzip members and reads back whole", () => {
  const { body, key } = encodeCheckpointV2(at, source(), PLAIN);
  // More than one member: gzip's magic bytes appear again after the first member.
  const magic = Buffer.from([0x1f, 0x8b, 0x08]);
  assert.ok(body.indexOf(magic, 3) > 0, "several members");
  assert.ok(gunzipSync(body).length > 2 ** 21);
  const decoded = decodeCheckpointV2(parseCheckpointKey(key)!, body, PLAIN);
  assert.is(decoded.entries.length, 12_000);
  assert.equal(decoded.entries[11_999], entries[11_999]);
  assert.equal(decoded.blobs, blobs);
  assert.equal(decoded.lanes, at.lanes);
  assert.throws(() => encodeCheckpointV2(at, { ...source(), entries: entries.slice(1) }, PLAIN), /told of 12000 entries and given 11999/);
  assert.throws(() => encodeCheckpointV2(at, { ...source(), blobCount: 51 }, PLAIN), /told of 51 blobs and given 50/);
});

test("read a piece at a time, a checkpoint gives what it holds in order, in several parts", async () => {
  const { body, key } = encodeCheckpointV2(at, source(), PLAIN);
  const got = await stream(body, key);
  assert.ok(got.read);
  assert.ok(got.parts.length > 4, `${got.parts.length} parts`);
  assert.equal(got.blobs, blobs);
  assert.equal(got.entries, entries);
});

test("a reader that declines the header is given nothing more", async () => {
  const { body, key } = encodeCheckpointV2(at, source(), PLAIN);
  let asked: Record<string, number> | undefined;
  const got = await stream(body, key, (lanes) => ((asked = lanes), false));
  assert.equal(asked, at.lanes);
  assert.is(got.read, false);
  assert.is(got.parts.length, 0);
});

test("a damaged checkpoint read a piece at a time is refused, naming it and what is wrong", async () => {
  const { body, key } = encodeCheckpointV2(at, source(), PLAIN);
  const flipped = Buffer.from(body);
  flipped[flipped.length >> 1]! ^= 1;
  // The digest is checked over all the bytes before anything is given out.
  let parts = 0;
  const name = parseCheckpointKey(key)!;
  await rejectsWith(
    streamCheckpointV2(name, flipped, PLAIN, { header: () => true, part: () => void parts++ }),
    "INTEGRITY",
    new RegExp(`${key}.*do not hash to its name`),
  );
  assert.is(parts, 0);
  const cases: [string, RegExp][] = [
    [`${headerLine(2)}\n${JSON.stringify({ op: "put", ...entries[0] })}\n`, /header counts 2 lines, it has 1/],
    [
      `${headerLine(1)}\n${JSON.stringify({ op: "put", ...entries[0] })}\n${JSON.stringify({ op: "put", ...entries[1] })}\n`,
      /header counts 1 lines, it has more/,
    ],
    [`${headerLine(1)}\n{"op":"put",\n`, /line 2 is not JSON/],
    [`${headerLine(1)}\n${JSON.stringify({ op: "delete", path: "/x" })}\n`, /holds a delete record/],
    [`${headerLine(1)}\n${JSON.stringify({ op: "put", ...entries[0] })}`, /does not end with a newline/],
    [`${headerLine(2)}\n${JSON.stringify({ op: "put", ...entries[0] })}\n${JSON.stringify({ op: "blob", ...blobs[0] })}\n`, /a blob after the records/],
    [`${JSON.stringify({ v: 2, kind: "checkpoint", lane: "c".repeat(32), time: at.time, count: 0, lanes: {} })}\n`, /does not match its name/],
  ];
  for (const [text, why] of cases) {
    const { body: b, key: k } = raw(text);
    await rejectsWith(stream(b, k), "INTEGRITY", new RegExp(`${k} is corrupt: .*${why.source}`));
  }
  // Cut short: the gzip stream ends early.
  const { body: whole, key: k } = raw(`${headerLine(1)}\n${JSON.stringify({ op: "put", ...entries[0] })}\n`);
  const cut = whole.subarray(0, whole.length - 12);
  const cutKey = k.replace(/[0-9a-f]{64}$/, sha256Hex(cut));
  await rejectsWith(stream(cut, cutKey), "INTEGRITY", /does not decompress/);
});

test.run();
