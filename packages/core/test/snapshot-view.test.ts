import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Engine, LocalDirectoryStorage, openRepository, loadTree, silentSink, type BackupPlugin, type Snapshot } from "@rtbackup/core";
import { backupOnce, testParameters, workspace } from "./helpers/tree.js";

/** A snapshot strategy whose views are empty directories, as a clone that failed to mount leaves them. */
class EmptyViewSnapshotPlugin implements BackupPlugin {
  readonly name = "EmptyViewSnapshotPlugin";
  constructor(readonly dir: string) {}
  apply(engine: Engine): void {
    engine.hooks.snapshot.tapPromise(this.name, async (request) => {
      await mkdir(this.dir, { recursive: true });
      const snapshot: Snapshot = {
        name: "empty@1",
        filesystem: request.filesystem,
        createdAt: Date.now(),
        pathOf: (live) => join(this.dir, live),
        release: async () => undefined,
      };
      return snapshot;
    });
  }
}

test("files missing from a failed (empty) snapshot view but present on disk are retried, never recorded as deleted", async () => {
  const ws = await workspace();
  try {
    await writeFile(join(ws.src, "a.txt"), "a");
    await mkdir(join(ws.src, "sub"));
    await writeFile(join(ws.src, "sub", "b.txt"), "b");
    await backupOnce(ws);
    // Changed on disk, so the next scan sends them through a snapshot again.
    await utimes(join(ws.src, "a.txt"), 1_700_000_000, 1_700_000_000);
    await utimes(join(ws.src, "sub", "b.txt"), 1_700_000_000, 1_700_000_000);
    const engine = new Engine({
      parameters: testParameters(ws),
      log: { sink: silentSink },
      plugins: [new EmptyViewSnapshotPlugin(join(ws.dir, "empty-view"))],
    });
    const runtime = await engine.start({ maxAttempts: 2, backoff: { baseMs: 5, maxMs: 20 } });
    try {
      await engine.initialBackup();
      assert.equal(runtime.gaveUp.map((g) => g.path).sort(), [join(ws.src, "a.txt"), join(ws.src, "sub", "b.txt")]);
      assert.match(runtime.gaveUp[0]!.error, "missing from its snapshot view");
      assert.is(runtime.uploader.stats.deletes, 0);
    } finally {
      await engine.stop();
    }
    const tree = await loadTree(await openRepository(new LocalDirectoryStorage({ path: ws.store })));
    assert.ok(tree.entries.has(join(ws.src, "a.txt")) && tree.entries.has(join(ws.src, "sub", "b.txt")), "the index still has both files");
  } finally {
    await ws.cleanup();
  }
});

test.run();
