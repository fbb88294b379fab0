// A v2 checkpoint is written beside the commits, not in their chain: while one is being stored, batches go on being
// committed; it covers what it read, and a reader starts from it.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Engine, LocalDirectoryStorage, silentSink, type StorageBackend } from "@rtbackup/core";
import { RepositoryV2, readTreeV2 } from "@rtbackup/core/v2";
import { recordPuts } from "./helpers/counting.js";
import { describe, restoreAll, testParameters, workspace } from "./helpers/tree.js";

const isBatch = (key: string) => /^lanes\/[0-9a-f]{32}\/batch\//.test(key);

/** A backend whose first checkpoint put waits for `gate`; every put's key is recorded in `puts`. */
function holdingCheckpoint(backend: StorageBackend, puts: { key: string }[], gate: Promise<void>, held: { at: number }): StorageBackend {
  const recording = recordPuts(backend, puts as { key: string; size: number }[]);
  return {
    ...recording,
    put: async (key, body, size) => {
      if (key.startsWith("index/checkpoint/") && held.at < 0) {
        // Puts from here on came while it was held (its own is recorded once released).
        held.at = puts.length;
        await gate;
      }
      return recording.put(key, body, size);
    },
  };
}

test("batches are committed while a checkpoint is being stored, and the checkpoint is used once stored", async () => {
  const ws = await workspace();
  try {
    for (let i = 0; i < 600; i++) {
      await mkdir(join(ws.src, `d${i % 6}`), { recursive: true });
      await writeFile(join(ws.src, `d${i % 6}`, `f${i}`), `content ${i}`);
    }
    let release = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const puts: { key: string }[] = [];
    const held = { at: -1 };
    const engine = new Engine({ parameters: testParameters(ws, { batchUploadConsolidationDelay: 1 }), log: { sink: silentSink } });
    engine.hooks.wrapStorage.tap("test", (b) => holdingCheckpoint(b, puts, gate, held));
    await engine.start({ checkpointEvery: 20 });
    let after = 0;
    let late = 0;
    try {
      const backup = engine.initialBackup();
      const until = Date.now() + 20_000;
      // Once the checkpoint is held, more changes come in (as the kernel would report them): each is committed.
      while (Date.now() < until) {
        after = held.at < 0 ? 0 : puts.slice(held.at).filter((p) => isBatch(p.key)).length;
        if (after >= 3) break;
        if (held.at >= 0) {
          const path = join(ws.src, `late${late++}`);
          await writeFile(path, `late ${late}`);
          engine.submit({ type: "update", path });
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      release();
      await backup;
    } finally {
      release();
      await engine.stop();
    }
    assert.ok(held.at >= 0, "a checkpoint was written");
    assert.ok(after >= 3, `batches committed while the checkpoint was held: ${after}`);
    const repo = await RepositoryV2.open(new LocalDirectoryStorage({ path: ws.store }));
    const tree = await readTreeV2(repo);
    assert.ok(tree.checkpoint, "the reader starts from a checkpoint");
    assert.equal(tree.damage, []);
    // The root, 6 directories, 600 files and every late one. (Some of the batches counted while the checkpoint was
    // held may be the initial backup's own, so how many late files there are depends on timing: count them.)
    assert.is(tree.entries.size, 1 + 6 + 600 + late, `${tree.entries.size} entries, ${late} late files`);
    const { result } = await restoreAll(ws);
    assert.is(result.errors, 0);
    assert.equal(await describe(join(ws.out, ws.src.slice(1))), await describe(ws.src));
  } finally {
    await ws.cleanup();
  }
});

test.run();
