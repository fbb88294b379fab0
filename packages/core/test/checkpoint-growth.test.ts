import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { Engine, LocalDirectoryStorage, silentSink, type FileEntry } from "@rtbackup/core";
import { RepositoryV2, decodeCheckpointV2, encodeCheckpointV2, parseCheckpointKey, readTreeV2 } from "@rtbackup/core/v2";
import { describe, restoreAll, testParameters, workspace } from "./helpers/tree.js";

test("an initial backup writes checkpoints of a growing tree at doubling intervals, not every CheckpointEvery records", async () => {
  const ws = await workspace();
  try {
    for (let i = 0; i < 640; i++) {
      await mkdir(join(ws.src, `d${i % 8}`), { recursive: true });
      await writeFile(join(ws.src, `d${i % 8}`, `f${i}`), `content ${i}`);
    }
    // Small batches, so that the committer looks at its checkpoint rule often.
    const engine = new Engine({ parameters: testParameters(ws, { batchUploadConsolidationDelay: 1 }), log: { sink: silentSink } });
    await engine.start({ checkpointEvery: 20 });
    try {
      await engine.initialBackup();
    } finally {
      await engine.stop();
    }
    const repo = await RepositoryV2.open(new LocalDirectoryStorage({ path: ws.store }));
    const checkpoints = await repo.checkpoints();
    // 649 records: one every 20 would be about 32 checkpoints; doubling from 20 gives at most log2(649 / 20) + 1.
    assert.ok(checkpoints.length >= 1 && checkpoints.length <= 7, `${checkpoints.length} checkpoints`);
    const sizes: number[] = [];
    for (const name of checkpoints) sizes.push((await repo.readCheckpoint(name)).entries.length);
    for (let i = 1; i < sizes.length; i++) assert.ok(sizes[i]! >= sizes[i - 1]! * 1.5, `each checkpoint's tree is larger by half: ${sizes.join(", ")}`);
    const tree = await readTreeV2(repo);
    assert.equal(tree.damage, []);
    assert.is(tree.entries.size, 649);
    const { result } = await restoreAll(ws);
    assert.is(result.errors, 0);
    assert.equal(await describe(join(ws.out, ws.src.slice(1))), await describe(ws.src));
  } finally {
    await ws.cleanup();
  }
});

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
