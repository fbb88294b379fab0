// A checkpoint that cannot be read is not the end of a restore: the tree is rebuilt from the checkpoint before it, or
// from the batches (a checkpoint only summarises them), and the damage is reported. Before, a corrupt checkpoint
// made every read fail.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { LocalDirectoryStorage, Repository, loadTree } from "@rtbackup/core";
import { backupOnce, workspace } from "./helpers/tree.js";

test("a corrupt checkpoint falls back to the batches: the same tree, the checkpoint named in the damage", async () => {
  const ws = await workspace({ format: 1 });
  try {
    await writeFile(join(ws.src, "a.txt"), "a");
    await writeFile(join(ws.src, "b.txt"), "b");
    await backupOnce(ws);
    const repo = await Repository.open(new LocalDirectoryStorage({ path: ws.store }));
    const before = await loadTree(repo);
    assert.equal(before.damage, []);
    const key = await repo.writeCheckpoint(before.sequence, before.time, before.entries.values(), before.entries.size);
    const viaCheckpoint = await loadTree(repo);
    assert.is(viaCheckpoint.batchesRead, 0, "the checkpoint is used");
    await truncate(join(ws.store, key), 20);
    const after = await loadTree(repo);
    assert.equal([...after.entries.keys()].sort(), [...before.entries.keys()].sort(), "the tree is complete");
    assert.is(after.damage.length, 1);
    assert.match(after.damage[0]!.message, key);
    assert.match(after.damage[0]!.message, /rebuilt from the batches/);
  } finally {
    await ws.cleanup();
  }
});

test.run();
