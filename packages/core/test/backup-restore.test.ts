import { test } from "uvu";
import * as assert from "uvu/assert";
import { appendFile, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Engine, silentSink } from "@rtbackup/core";
import { recordPuts } from "./helpers/counting.js";
import { backupOnce, describe, makeSampleTree, restoreAll, testParameters, workspace } from "./helpers/tree.js";

test("a tree round-trips: content, empty files, odd names, deep paths, symlinks, modes, mtimes", async () => {
  const ws = await workspace();
  try {
    await makeSampleTree(ws.src);
    const scan = await backupOnce(ws);
    assert.ok(scan.changed > 10, `queued ${scan.changed}`);
    const { result } = await restoreAll(ws);
    assert.is(result.errors, 0);
    assert.is(result.unsafe, 0);
    const restored = await describe(join(ws.out, ws.src.slice(1)));
    assert.equal(restored, await describe(ws.src));
  } finally {
    await ws.cleanup();
  }
});

test("a second backup of an unchanged tree uploads nothing and writes no index records", async () => {
  const ws = await workspace();
  try {
    await makeSampleTree(ws.src);
    await backupOnce(ws);
    const puts: { key: string; size: number }[] = [];
    const scan = await backupOnce(ws, {}, (b) => recordPuts(b, puts));
    assert.is(scan.changed, 0);
    assert.equal(puts, []);
  } finally {
    await ws.cleanup();
  }
});

test("v1: a change in the middle of a large file re-uploads only the changed fixed-size chunk", async () => {
  const ws = await workspace();
  try {
    const big = Buffer.alloc(10 * 64 * 1024, 1);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    await writeFile(join(ws.src, "disk.img"), big);
    await backupOnce(ws, { repositoryFormat: 1 });
    big.write("CHANGED IN THE MIDDLE", 5 * 64 * 1024 + 100);
    await writeFile(join(ws.src, "disk.img"), big);
    const puts: { key: string; size: number }[] = [];
    await backupOnce(ws, {}, (b) => recordPuts(b, puts));
    const data = puts.map((p) => p.key).filter((k) => k.startsWith("data/"));
    const index = puts.map((p) => p.key).filter((k) => k.startsWith("index/batch/"));
    assert.is(data.length, 1, `data objects written: ${data.join(", ")}`);
    assert.is(index.length, 1);
    const { result } = await restoreAll(ws);
    assert.is(result.errors, 0);
    assert.ok((await readFile(join(ws.out, ws.src.slice(1), "disk.img"))).equals(big));
  } finally {
    await ws.cleanup();
  }
});

test("deletes and moves are replayed from the index", async () => {
  const ws = await workspace();
  const engine = new Engine({ parameters: testParameters(ws), log: { sink: silentSink } });
  try {
    await mkdir(join(ws.src, "dir", "sub"), { recursive: true });
    await writeFile(join(ws.src, "dir", "sub", "a.txt"), "a");
    await writeFile(join(ws.src, "dir", "b.txt"), "b");
    await writeFile(join(ws.src, "gone.txt"), "bye");
    const runtime = await engine.start();
    await engine.initialBackup();
    // A directory rename is one move record; the files are not uploaded again.
    await rename(join(ws.src, "dir"), join(ws.src, "moved"));
    await runtime.pipeline.enqueue({ type: "move", from: join(ws.src, "dir"), to: join(ws.src, "moved") });
    await rm(join(ws.src, "gone.txt"));
    await runtime.pipeline.enqueue({ type: "delete", path: join(ws.src, "gone.txt") });
    const uploadedBefore = runtime.uploader.stats.chunksUploaded;
    await runtime.drain();
    assert.is(runtime.uploader.stats.chunksUploaded, uploadedBefore);
    await engine.stop();
    const { tree, result } = await restoreAll(ws);
    assert.is(result.errors, 0);
    const paths = [...tree.entries.keys()].map((p) => p.slice(ws.src.length)).sort();
    assert.equal(paths, ["", "/moved", "/moved/b.txt", "/moved/sub", "/moved/sub/a.txt"]);
    assert.is(await readFile(join(ws.out, ws.src.slice(1), "moved", "sub", "a.txt"), "utf8"), "a");
  } finally {
    await engine.stop().catch(() => undefined);
    await ws.cleanup();
  }
});

test("a rescan finds deletions and changes made while nothing watched", async () => {
  const ws = await workspace();
  try {
    await makeSampleTree(ws.src);
    await backupOnce(ws);
    await rm(join(ws.src, "docs"), { recursive: true });
    await appendFile(join(ws.src, "script.sh"), "echo more\n");
    const scan = await backupOnce(ws);
    assert.is(scan.deleted, 1, "one delete record covers the removed directory");
    assert.is(scan.changed, 2, "the appended file and its directory");
    const { result } = await restoreAll(ws);
    assert.is(result.errors, 0);
    assert.equal(await describe(join(ws.out, ws.src.slice(1))), await describe(ws.src));
  } finally {
    await ws.cleanup();
  }
});

test("restore --at brings back an older version", async () => {
  const ws = await workspace();
  try {
    await writeFile(join(ws.src, "v.txt"), "version one");
    await backupOnce(ws);
    const between = Date.now();
    await new Promise((r) => setTimeout(r, 5)); // batch times are ms: make sure the next batch is later
    await writeFile(join(ws.src, "v.txt"), "version two, longer");
    await backupOnce(ws);
    const old = await restoreAll(ws, { at: between, out: join(ws.dir, "old") });
    assert.is(old.result.errors, 0);
    assert.is(await readFile(join(ws.dir, "old", ws.src.slice(1), "v.txt"), "utf8"), "version one");
    await restoreAll(ws);
    assert.is(await readFile(join(ws.out, ws.src.slice(1), "v.txt"), "utf8"), "version two, longer");
  } finally {
    await ws.cleanup();
  }
});

test("a scan held back by the high-water mark does not wait out the SnapshotSharingWindow", async () => {
  const ws = await workspace();
  try {
    for (let d = 0; d < 6; d++) {
      await mkdir(join(ws.src, `d${d}`));
      for (let i = 0; i < 25; i++) await writeFile(join(ws.src, `d${d}`, `f${i}`), `${d}/${i}`);
    }
    // An hour-long window: a batch that waited for it would never let this scan finish within the test's time.
    const scan = await backupOnce(ws, { snapshotSharingWindow: 3_600_000, queueHighWaterMark: 20, queueLowWaterMark: 10 });
    assert.is(scan.changed, 157);
    const { result, tree } = await restoreAll(ws);
    assert.is(result.errors, 0);
    assert.is(tree.entries.size, 157);
  } finally {
    await ws.cleanup();
  }
});

test.run();
