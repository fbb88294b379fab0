import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Engine, LocalDirectoryStorage, Restorer, contentOf, loadTree, openRepository, silentSink } from "@rtbackup/core";
import { flaky, seeded } from "./helpers/flaky.js";
import { describe, testParameters, workspace } from "./helpers/tree.js";

test("a storage failing 20% of operations at random still ends with every file correct", async () => {
  const ws = await workspace();
  const counter = { failures: 0, enabled: false };
  const random = seeded(20261122);
  let engine: Engine | undefined;
  try {
    for (let d = 0; d < 3; d++) await mkdir(join(ws.src, `dir${d}`));
    // Several runs, each changing the files, each a new engine on the same state: start-up syncs, packs, batches and
    // checkpoints all meet failures (format v2 writes few objects per run).
    for (let round = 0; round < 4; round++) {
      for (let d = 0; d < 3; d++) {
        for (let i = 0; i < 12; i++) await writeFile(join(ws.src, `dir${d}`, `f${i}`), Buffer.alloc(100 + d * 70_000 + i * 997, d * 16 + i + round));
      }
      engine = new Engine({ parameters: testParameters(ws, { uploadThreadCount: 4 }), log: { sink: silentSink } });
      engine.hooks.wrapStorage.tap("flaky", (b) => flaky(b, 0.2, random, counter));
      counter.enabled = false;
      await engine.start({ backoff: { baseMs: 20, maxMs: 200 }, checkpointEvery: 30 });
      counter.enabled = true;
      await engine.initialBackup();
      await engine.stop();
    }
    assert.ok(counter.failures > 5, `failures were injected (${counter.failures})`);
    // Restore through the same flaky storage: reads are retried too.
    const repo = await openRepository(flaky(new LocalDirectoryStorage({ path: ws.store }), 0.2, random, { failures: 0, enabled: false }));
    const tree = await loadTree(repo);
    // No gap, no broken chain, no two batches with one number (a put that failed after storing is stored again as is).
    assert.equal(tree.damage, []);
    const restoreCounter = { failures: 0, enabled: false };
    // Half of the reads fail here: a v2 restore reads neighbouring blobs of a pack at once, so it makes few reads.
    const reading = await openRepository(flaky(new LocalDirectoryStorage({ path: ws.store }), 0.5, random, restoreCounter));
    restoreCounter.enabled = true;
    const result = await new Restorer(contentOf(reading, tree)).restore(Restorer.select(tree.entries, ["/"], true).entries, ws.out);
    assert.is(result.errors, 0);
    assert.ok(restoreCounter.failures > 0, "restore saw failures too");
    assert.equal(await describe(join(ws.out, ws.src.slice(1))), await describe(ws.src));
  } finally {
    await engine?.stop({ drain: false }).catch(() => undefined);
    await ws.cleanup();
  }
});

test.run();
