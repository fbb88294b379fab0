// A file that is gone from the live tree by the time its upload (read from an older snapshot) finishes must not stay
// in the index as current. Two ways it happens: a delete event taken in while the upload waits in the stability
// stage (the delete is recorded first, then the older put), and, where deletes raise no event (fanotify fd mode on
// ZFS), a rename-over or unlink seen by no rescan because the rescan ran while the path was not committed yet.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { LocalDirectoryStorage, openRepository, loadTree, type ManualClock, type Runtime } from "@rtbackup/core";
import { CopySnapshotPlugin, advance, pipelineEngine, settle } from "./helpers/pipeline.js";
import { workspace } from "./helpers/tree.js";

/** Drains the runtime while moving the manual clock, so work the drain waits for (windows, polls) can happen. */
async function drain(clock: ManualClock, runtime: Runtime): Promise<void> {
  let done = false;
  const drained = runtime.drain().then(() => (done = true));
  for (let i = 0; i < 500 && !done; i++) await advance(clock, 500);
  assert.ok(done, "the pipeline drained");
  await drained;
}

async function indexedPaths(store: string): Promise<string[]> {
  const tree = await loadTree(await openRepository(new LocalDirectoryStorage({ path: store })));
  return [...tree.entries.keys()].sort();
}

for (const how of ["a delete event while it waits", "an unlink no event reports, then a rescan of its directory"] as const) {
  test(`an upload from a snapshot older than the file's removal is followed by a delete (${how})`, async () => {
    const ws = await workspace();
    const snaps = new CopySnapshotPlugin(join(ws.dir, "snaps"));
    const { engine, runtime, clock, uploads, writers, submit } = await pipelineEngine(ws, {}, [snaps]);
    try {
      const keep = join(ws.src, "saved.txt");
      const temp = join(ws.src, "save.tmp");
      await writeFile(keep, "kept");
      await writeFile(temp, "about to be renamed over");
      writers.add(temp);
      await submit({ type: "update", path: keep });
      await submit({ type: "update", path: temp });
      await clock.advance(1000);
      await settle(clock, () => uploads.includes(keep), "the file without a writer is uploaded");
      await settle(clock, () => runtime.cache.get(keep) !== undefined, "its record committed");
      assert.is(snaps.created, 1);
      assert.not.ok(uploads.includes(temp), "the file with a writer waits in the stability stage");

      await rm(temp);
      if (how === "a delete event while it waits") await submit({ type: "delete", path: temp });
      else {
        const result = await runtime.scan("request", [ws.src]);
        assert.is(result.deleted, 0, "the rescan cannot delete what is not committed yet");
      }
      writers.delete(temp);
      await clock.advance(4000);
      await settle(clock, () => uploads.includes(temp), "the waiting file is uploaded from its snapshot");
      await drain(clock, runtime);
      const paths = await indexedPaths(ws.store);
      assert.not.ok(paths.includes(temp), `${temp} is gone from disk and must not be current in the index: ${paths.join(", ")}`);
      assert.ok(paths.includes(keep));
    } finally {
      await engine.stop({ drain: false });
      await ws.cleanup();
    }
  });
}

test.run();
