// Format v2 checkpoints (docs/format-v2.md "Checkpoints"): a read that starts from one gives the same tree as a
// read of every batch and skips the batches it covers; one that no longer fits the lanes is not used.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalDirectoryStorage } from "@rtbackup/core";
import { RepositoryV2, checkpointOf, encodeLaneBatch, laneBatchKey, readTreeV2, type TreeV2 } from "@rtbackup/core/v2";
import { counting } from "./helpers/counting.js";
import { backupTree } from "./helpers/v2writer.js";

const CHUNKING = { minSize: 4096, avgSize: 16384, maxSize: 65536, seed: 0 };

/** A local store that counts the batch objects it is asked for. */
async function setup() {
  const dir = await mkdtemp(join(tmpdir(), "rtb-v2-cp-"));
  const { storage, calls: reads } = counting(new LocalDirectoryStorage({ path: join(dir, "store") }));
  const repo = await RepositoryV2.create(storage, { packSize: 1 << 20, chunking: CHUNKING });
  return { dir, storage, repo, reads, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

const view = (t: TreeV2) => Object.fromEntries([...t.entries].map(([p, e]) => [p, `${e.type}:${e.size}:${e.chunks.join(",")}`]));

test("starting from a checkpoint gives the tree a full read gives, and reads only the batches after it", async () => {
  const s = await setup();
  try {
    const [a, b] = [join(s.dir, "a"), join(s.dir, "b")];
    for (const d of [a, b]) await mkdir(d);
    const [laneA, laneB] = [await s.repo.openLane(), await s.repo.openLane()];
    const known = new Set<string>();
    for (let i = 0; i < 3; i++) {
      await writeFile(join(a, `f${i}`), `a ${i}`.repeat(1000));
      await backupTree(s.repo, laneA, a, known);
      await writeFile(join(b, `f${i}`), `b ${i}`.repeat(1000));
      await backupTree(s.repo, laneB, b, known);
    }
    const before = await readTreeV2(s.repo);
    const cp = await s.repo.writeCheckpoint(laneA.lane, checkpointOf(before), { lanes: before.covered, time: before.time });
    await writeFile(join(a, "f0"), "changed after the checkpoint");
    await backupTree(s.repo, laneA, a, known);
    await writeFile(join(b, "new"), `b f0 again: ${"b 0".repeat(1000)}`);
    await backupTree(s.repo, laneB, b, known);
    s.reads.batches = 0;
    const fromCheckpoint = await readTreeV2(s.repo);
    assert.is(fromCheckpoint.checkpoint?.key, cp.key);
    assert.is(s.reads.batches, 2, "only the two batches after the checkpoint are read");
    await s.storage.delete(cp.key);
    const full = await readTreeV2(s.repo);
    assert.is(full.checkpoint, undefined);
    assert.equal(view(fromCheckpoint), view(full));
    assert.equal(fromCheckpoint.damage, []);
  } finally {
    await s.cleanup();
  }
});

test("a checkpoint is not used when a covered batch is gone, when an uncovered batch comes before it, or after `at`", async () => {
  const s = await setup();
  try {
    const src = join(s.dir, "src");
    await mkdir(src);
    const lane = await s.repo.openLane();
    const known = new Set<string>();
    const names = [];
    for (let i = 0; i < 3; i++) {
      await writeFile(join(src, `f${i}`), `${i}`.repeat(5000));
      names.push(await backupTree(s.repo, lane, src, known));
    }
    const tree = await readTreeV2(s.repo);
    await s.repo.writeCheckpoint(lane.lane, checkpointOf(tree), { lanes: tree.covered, time: tree.time });
    assert.ok((await readTreeV2(s.repo)).checkpoint, "usable as written");
    assert.is((await readTreeV2(s.repo, { at: names[1]!.time })).checkpoint, undefined, "not for a moment before it");
    // Another writer's batch, committed (by its clock) before the checkpoint's newest batch, is not covered by it.
    const other = "c".repeat(32);
    const late = encodeLaneBatch({ lane: other, seq: 0, time: names[0]!.time - 1, prev: null }, [], [{ op: "delete", path: join(src, "f0") }], s.repo.cipher);
    await s.storage.put(laneBatchKey(other, 0, names[0]!.time - 1, late.digest), late.body, late.body.length);
    await s.storage.put(`lanes/${other}/lane`, Buffer.from("{}\n"), 3);
    const skewed = await readTreeV2(s.repo);
    assert.is(skewed.checkpoint, undefined, "an uncovered batch that sorts before it: the checkpoint would reorder it");
    assert.ok(
      skewed.entries.has(join(src, "f0")),
      "read in merge order, the delete comes first and the later puts put f0 back (from the checkpoint, it would have been deleted)",
    );
    await s.storage.delete(laneBatchKey(other, 0, names[0]!.time - 1, late.digest));
    await s.storage.delete(names[2]!.key);
    const lost = await readTreeV2(s.repo);
    assert.is(lost.checkpoint, undefined, "its covered batch is gone");
  } finally {
    await s.cleanup();
  }
});

test.run();
