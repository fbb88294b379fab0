import { test } from "uvu";
import * as assert from "uvu/assert";
import { gunzipSync } from "node:zlib";
import type { FileEntry } from "@rtbackup/core";
import { decodeCheckpointV2, encodeCheckpointV2, parseCheckpointKey } from "@rtbackup/core/v2";

test("a checkpoint larger than a MiB of text is written as several gzip members and reads back whole", () => {
  const plain = { digest: () => "0".repeat(64), seal: (b: Buffer) => b, open: (b: Buffer) => b, canRead: true } as never;
  const entries: FileEntry[] = Array.from({ length: 12_000 }, (_, i) => ({
    path: `/data/${"x".repeat(60)}/file-${i}`,
    type: "file",
    size: i,
    mtimeMs: 1.7e12 + i,
    mode: 0o644,
    uid: 1000,
    gid: 1000,
    chunks: [i.toString(16).padStart(64, "0")],
  }));
  const at = { lane: "a".repeat(32), time: 1_700_000_000_000, lanes: { ["a".repeat(32)]: 3 } };
  const { body, key } = encodeCheckpointV2(at, [], entries, entries.length, plain);
  // More than one member: gzip's magic bytes appear again after the first member.
  const magic = Buffer.from([0x1f, 0x8b, 0x08]);
  assert.ok(body.indexOf(magic, 3) > 0, "several members");
  assert.ok(gunzipSync(body).length > 2 ** 21);
  const decoded = decodeCheckpointV2(parseCheckpointKey(key)!, body, plain);
  assert.is(decoded.entries.length, 12_000);
  assert.equal(decoded.entries[11_999], entries[11_999]);
  assert.equal(decoded.lanes, at.lanes);
  assert.throws(() => encodeCheckpointV2(at, [], entries.slice(1), entries.length, plain), /told of 12000 entries and given 11999/);
});

test.run();
