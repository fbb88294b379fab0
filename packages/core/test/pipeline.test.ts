import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, readFile, rm, writeFile, rename } from "node:fs/promises";
import { join } from "node:path";
import type { ManualClock } from "@rtbackup/core";
import { CopySnapshotPlugin, advance, pipelineEngine, settle } from "./helpers/pipeline.js";

/** Advances the manual clock in steps, letting the real I/O each step triggers finish before the next one. */
async function run(clock: ManualClock, total: number, step: number): Promise<void> {
  for (let t = 0; t < total; t += step) await advance(clock, step);
}
import { restoreAll, workspace } from "./helpers/tree.js";

test("ten writes to one file in a window are one upload; the batch closes SnapshotSharingWindow after its first event", async () => {
  const ws = await workspace();
  const snaps = new CopySnapshotPlugin(join(ws.dir, "snaps"));
  const { engine, runtime, clock, uploads, submit } = await pipelineEngine(ws, {}, [snaps]);
  try {
    const f = join(ws.src, "f.txt");
    for (let i = 0; i < 10; i++) {
      await writeFile(f, `version ${i}`);
      await submit({ type: "update", path: f });
      await clock.advance(50);
    }
    assert.is(snaps.created, 0, "no snapshot before the window closes");
    await clock.advance(1000 - 500 - 1);
    assert.is(snaps.created, 0);
    await clock.advance(1);
    await settle(clock, () => uploads.length === 1, "one upload");
    await runtime.drain();
    assert.equal(uploads, [f]);
    assert.is(snaps.created, 1);
    assert.is(snaps.released, 1, "the snapshot is released after the upload");
    assert.is(runtime.pipeline.stats.coalesced, 9);
  } finally {
    await engine.stop({ drain: false });
    await ws.cleanup();
  }
});

test("create then delete inside one window is nothing; update then rename uploads the new path only", async () => {
  const ws = await workspace();
  const { engine, runtime, clock, uploads, submit } = await pipelineEngine(ws);
  try {
    const tmp = join(ws.src, "tmp.txt");
    await writeFile(tmp, "x");
    await submit({ type: "update", path: tmp });
    await rm(tmp);
    await submit({ type: "delete", path: tmp });
    const a = join(ws.src, "a.txt");
    const b = join(ws.src, "b.txt");
    await writeFile(a, "content");
    await submit({ type: "update", path: a });
    await rename(a, b);
    await submit({ type: "move", from: a, to: b });
    await clock.advance(1000);
    await settle(clock, () => uploads.length >= 1, "upload");
    await runtime.drain();
    assert.equal(uploads, [b]);
    assert.is(runtime.committer.stats.records, 1, "one put record, no delete of a never-uploaded file");
  } finally {
    await engine.stop({ drain: false });
    await ws.cleanup();
  }
});

test("one snapshot per filesystem per batch, shared by its files; a vanished file does not release it for the rest", async () => {
  const ws = await workspace();
  await mkdir(join(ws.src, "fs1"));
  await mkdir(join(ws.src, "fs2"));
  const fsOf = (p: string) => (p.includes("/fs1/") ? join(ws.src, "fs1") : p.includes("/fs2/") ? join(ws.src, "fs2") : undefined);
  const snaps = new CopySnapshotPlugin(join(ws.dir, "snaps"), fsOf);
  const { engine, runtime, clock, uploads, writers, submit } = await pipelineEngine(ws, {}, [snaps]);
  try {
    const files = ["fs1/a", "fs1/b", "fs1/c", "fs2/d"].map((n) => join(ws.src, n));
    for (const f of files) {
      await writeFile(f, f);
      await submit({ type: "update", path: f });
    }
    const gone = join(ws.src, "fs1", "gone");
    await submit({ type: "update", path: gone }); // never existed: vanishes before the snapshot
    writers.add(files[1]!); // keeps fs1's snapshot referenced after the others finish
    await clock.advance(1000);
    await settle(clock, () => uploads.length === 3, "three uploads");
    assert.is(snaps.created, 2, "one snapshot per filesystem");
    assert.is(snaps.released, 1, "fs2's snapshot released; fs1's still held by the file with a writer");
    // The file still being written reads from fs1's snapshot: modify it live, the snapshot copy must be uploaded.
    await writeFile(files[1]!, "changed after the snapshot");
    writers.delete(files[1]!);
    await clock.advance(4000);
    await settle(clock, () => uploads.length === 4, "fourth upload");
    await runtime.drain();
    assert.is(snaps.released, 2);
    await engine.stop();
    await restoreAll(ws);
    assert.is(await readFile(join(ws.out, files[1]!.slice(1)), "utf8"), files[1], "uploaded as it was at the snapshot");
  } finally {
    await engine.stop({ drain: false });
    await ws.cleanup();
  }
});

test("a failed snapshot is retried, never taken for a deletion", async () => {
  const ws = await workspace();
  const snaps = new CopySnapshotPlugin(join(ws.dir, "snaps"));
  snaps.failNext = 1;
  const { engine, runtime, clock, uploads, submit } = await pipelineEngine(ws, {}, [snaps]);
  const failures: string[] = [];
  engine.hooks.failure.tap("test", (f) => failures.push(`${f.stage}:${f.path}`));
  try {
    const f = join(ws.src, "keep.txt");
    await writeFile(f, "keep me");
    await submit({ type: "update", path: f });
    await clock.advance(1000);
    await settle(clock, () => failures.length === 1, "failure reported");
    assert.equal(failures, [`snapshot:${f}`]);
    assert.is(uploads.length, 0);
    await clock.advance(2000); // backoff, then a new window
    await clock.advance(1000);
    await settle(clock, () => uploads.length === 1, "upload after retry");
    await runtime.drain();
    assert.is(runtime.committer.stats.records, 1);
  } finally {
    await engine.stop({ drain: false });
    await ws.cleanup();
  }
});

test("a writer keeps a file waiting, polled every OpenFileHandlePollingInterval; empty files are uploaded", async () => {
  const ws = await workspace();
  const { engine, runtime, clock, uploads, writers, checks, submit } = await pipelineEngine(ws);
  try {
    const db = join(ws.src, "db.sqlite");
    const empty = join(ws.src, "empty");
    await writeFile(db, "pages");
    await writeFile(empty, "");
    writers.add(db);
    await submit({ type: "update", path: db });
    await submit({ type: "update", path: empty });
    await clock.advance(1000);
    await settle(clock, () => uploads.includes(empty), "empty file uploaded");
    const checksBefore = checks.length;
    await clock.advance(3999);
    assert.is(checks.length, checksBefore, "no poll before the interval");
    await clock.advance(1);
    await settle(clock, () => checks.length === checksBefore + 1, "poll");
    assert.not.ok(uploads.includes(db));
    writers.delete(db);
    await clock.advance(4000);
    await settle(clock, () => uploads.includes(db), "db uploaded once its writer closed");
    await runtime.drain();
  } finally {
    await engine.stop({ drain: false });
    await ws.cleanup();
  }
});

test("long polling: stable content is uploaded after one comparison; changing content at MaximumLongPollingTime", async () => {
  const ws = await workspace();
  const snaps = new CopySnapshotPlugin(join(ws.dir, "snaps"));
  const { engine, runtime, clock, uploads, writers, checks, submit } = await pipelineEngine(ws, {}, [snaps]);
  try {
    const stable = join(ws.src, "idle-writer.log");
    const busy = join(ws.src, "vm.img");
    await writeFile(stable, "unchanging");
    await writeFile(busy, "v0");
    writers.add(stable);
    writers.add(busy);
    await submit({ type: "update", path: stable });
    await submit({ type: "update", path: busy });
    await clock.advance(1000);
    await run(clock, 36_000, 4000);
    // Under load a check's real I/O can finish after the manual clock moved on, one check late: allow up to three
    // more polling intervals (far below the 30 s long-polling comparison) before waiting.
    for (let extra = 0; extra < 3 && runtime.pipeline.stability.longPolling < 2; extra++) await run(clock, 4000, 4000);
    await settle(
      clock,
      () => runtime.pipeline.stability.longPolling === 2,
      `both in long polling ${JSON.stringify({ s: runtime.pipeline.stability.stats, w: runtime.pipeline.stability.paths, c: checks.length, p: clock.pending, up: uploads })}`,
    );
    assert.is(uploads.length, 0);
    await writeFile(busy, "v1 (the writer keeps writing)");
    await run(clock, 30_000, 30_000);
    await settle(clock, () => uploads.includes(stable), "stable content uploaded");
    assert.not.ok(uploads.includes(busy));
    for (let i = 2; uploads.length < 2 && i < 40; i++) {
      await writeFile(busy, `v${i} ${"x".repeat(i)}`);
      await run(clock, 30_000, 30_000);
      await settle(clock, () => runtime.pipeline.stability.longPolling + uploads.length === 2, "poll round");
    }
    assert.ok(uploads.includes(busy), "uploaded at the deadline");
    assert.is(runtime.pipeline.stability.stats.promotedDeadline, 1);
    assert.is(runtime.pipeline.stability.stats.promotedStable, 1);
    await runtime.drain();
    assert.is(snaps.released, snaps.created, "every snapshot released");
  } finally {
    await engine.stop({ drain: false });
    await ws.cleanup();
  }
});

test("pause buffers changes; unpause processes them, or discards them when asked", async () => {
  const ws = await workspace();
  const { engine, runtime, clock, uploads, submit } = await pipelineEngine(ws);
  try {
    const a = join(ws.src, "a");
    const b = join(ws.src, "b");
    await writeFile(a, "a");
    await writeFile(b, "b");
    runtime.pipeline.pause();
    await submit({ type: "update", path: a });
    assert.is(runtime.pipeline.bufferedCount, 1);
    await clock.advance(2000);
    assert.is(uploads.length, 0);
    assert.equal(runtime.pipeline.unpause(), { processed: 1, discarded: 0 });
    await runtime.quiet();
    await clock.advance(1000);
    await settle(clock, () => uploads.length === 1, "buffered change processed");
    runtime.pipeline.pause();
    await submit({ type: "update", path: b });
    assert.equal(runtime.pipeline.unpause({ discard: true }), { processed: 0, discarded: 1 });
    await clock.advance(2000);
    await runtime.drain();
    assert.equal(uploads, [a]);
  } finally {
    await engine.stop({ drain: false });
    await ws.cleanup();
  }
});

test("vim's save (rename to f~, write f, delete f~) leaves only f, even before the rename is committed", async () => {
  const ws = await workspace();
  const { engine, runtime, clock, submit } = await pipelineEngine(ws);
  try {
    const f = join(ws.src, "edit.txt");
    const backup = `${f}~`;
    await writeFile(f, "v1");
    await submit({ type: "update", path: f });
    await clock.advance(1000);
    await settle(clock, () => runtime.committer.stats.records >= 1, "first version committed");
    await runtime.drain();
    await rename(f, backup);
    await writeFile(f, "version two");
    await rm(backup);
    await submit({ type: "move", from: f, to: backup });
    await submit({ type: "update", path: f });
    await submit({ type: "delete", path: backup });
    await clock.advance(1000);
    await settle(
      clock,
      () => runtime.cache.get(f)?.size === "version two".length && runtime.pipeline.outstanding === 0 && runtime.pipeline.batchesInFlight === 0,
      "second version committed",
    );
    await runtime.drain();
    assert.is(runtime.cache.get(backup), undefined, "the editor's backup file is not left in the backup");
    assert.equal(
      [...runtime.cache.entriesUnder(ws.src)].map((e) => e.path).filter((p) => p !== ws.src),
      [f],
    );
  } finally {
    await engine.stop({ drain: false });
    await ws.cleanup();
  }
});

test("an observer that throws (uploadStarted, uploaded, action) is logged, later taps still run, the upload never fails", async () => {
  const ws = await workspace();
  const thrower: import("@rtbackup/core").BackupPlugin = {
    name: "ThrowingObserver",
    apply(engine) {
      const boom = () => {
        throw new Error("observer bug");
      };
      engine.hooks.uploadStarted.tap("ThrowingObserver", boom);
      engine.hooks.uploaded.tap("ThrowingObserver", boom);
      engine.hooks.action.tap("ThrowingObserver", boom);
    },
  };
  const { engine, runtime, clock, uploads, submit } = await pipelineEngine(ws, {}, [thrower]);
  try {
    const f = join(ws.src, "watched.txt");
    await writeFile(f, "still backed up");
    await submit({ type: "update", path: f });
    await clock.advance(1000);
    await settle(clock, () => uploads.length === 1, "upload");
    await runtime.drain();
    assert.is(runtime.committer.stats.records, 1, "the record is committed");
    assert.is(runtime.pipeline.stats.uploadFailures, 0, "nothing counted as failed");
    await restoreAll(ws);
    assert.is(await readFile(join(ws.out, f), "utf8"), "still backed up");
  } finally {
    await engine.stop({ drain: false });
    await ws.cleanup();
  }
});

test.run();
