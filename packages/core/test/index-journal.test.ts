import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync } from "node:fs";
import { readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Engine, IndexDamagedError, LocalDirectoryStorage, Repository, loadTree, silentSink, type Parameters } from "@rtbackup/core";
import { restoreAll, testParameters, workspace, type Workspace } from "./helpers/tree.js";

/** Batch object files in the store, in journal order (their names sort that way). */
async function batchFiles(ws: Workspace): Promise<string[]> {
  const root = join(ws.store, "index", "batch");
  const out: string[] = [];
  for (const group of (await readdir(root)).sort()) for (const name of (await readdir(join(root, group))).sort()) out.push(join(root, group, name));
  return out;
}

/** One backup run with a fresh engine; returns the uploader's totals. */
async function backup(ws: Workspace, extra: Partial<Parameters> = {}, options: { checkpointEvery?: number } = {}) {
  const engine = new Engine({ parameters: testParameters(ws, extra), log: { sink: silentSink } });
  const runtime = await engine.start(options);
  try {
    await engine.initialBackup();
    return { ...runtime.uploader.stats, sync: runtime.sync };
  } finally {
    await engine.stop();
  }
}

async function startFails(ws: Workspace): Promise<IndexDamagedError> {
  const engine = new Engine({ parameters: testParameters(ws), log: { sink: silentSink } });
  try {
    await engine.start();
  } catch (err) {
    assert.instance(err, IndexDamagedError, String(err));
    assert.is((err as IndexDamagedError).code, "INDEX_DAMAGED");
    return err as IndexDamagedError;
  }
  await engine.stop();
  return assert.unreachable("the engine started on a damaged index") as never;
}

test("a content object deleted behind the agent is uploaded again by a fresh state cache, and restores", async () => {
  const ws = await workspace({ format: 1 });
  try {
    await writeFile(join(ws.src, "precious.txt"), "content whose object goes missing");
    await backup(ws);
    const data = join(ws.store, "data");
    for (const dir of await readdir(data)) await rm(join(data, dir), { recursive: true });
    await rm(ws.state, { recursive: true });
    const second = await backup(ws);
    assert.ok(second.bytesUploaded > 0, `uploaded ${second.bytesUploaded} bytes`);
    const { result } = await restoreAll(ws);
    assert.is(result.errors, 0);
    assert.is(await readFile(join(ws.out, ws.src.slice(1), "precious.txt"), "utf8"), "content whose object goes missing");
  } finally {
    await ws.cleanup();
  }
});

test("a truncated batch the state cache already applied stops the next start, naming the object", async () => {
  const ws = await workspace({ format: 1 });
  try {
    await writeFile(join(ws.src, "a.txt"), "a");
    await backup(ws);
    const [batch] = await batchFiles(ws);
    await truncate(batch!, 10);
    const err = await startFails(ws);
    assert.ok(err.message.includes(batch!.slice(ws.store.length + 1)), err.message);
    assert.match(err.message, /cannot be read/);
  } finally {
    await ws.cleanup();
  }
});

test("the state cache's last batch deleted from the store stops the next start", async () => {
  const ws = await workspace({ format: 1 });
  try {
    await writeFile(join(ws.src, "a.txt"), "a");
    await backup(ws);
    await writeFile(join(ws.src, "b.txt"), "b");
    await backup(ws);
    const batches = await batchFiles(ws);
    assert.ok(batches.length >= 2);
    await rm(batches.at(-1)!);
    const err = await startFails(ws);
    assert.ok(err.message.includes(`index batch ${batches.length - 1} (the last one this state cache applied) is missing`), err.message);
    assert.equal((await batchFiles(ws)).length, batches.length - 1, "nothing was committed on top");
  } finally {
    await ws.cleanup();
  }
});

test("a gap in sequence numbers stops the start of a fresh state cache, naming both ends", async () => {
  const ws = await workspace({ format: 1 });
  try {
    for (const name of ["a", "b", "c"]) {
      await writeFile(join(ws.src, name), name);
      await backup(ws);
    }
    const batches = await batchFiles(ws);
    assert.ok(batches.length >= 3);
    await rm(batches[1]!);
    await rm(ws.state, { recursive: true });
    const err = await startFails(ws);
    assert.match(err.message, /gap: no batch between 0 and 2/);
  } finally {
    await ws.cleanup();
  }
});

test("a batch deleted while the agent runs halts the committer: drain throws, nothing is committed on top", async () => {
  const ws = await workspace({ format: 1 });
  const engine = new Engine({ parameters: testParameters(ws), log: { sink: silentSink } });
  try {
    await writeFile(join(ws.src, "a.txt"), "a");
    const runtime = await engine.start();
    await engine.initialBackup();
    const before = await batchFiles(ws);
    await rm(before.at(-1)!);
    await writeFile(join(ws.src, "b.txt"), "b");
    await runtime.pipeline.enqueue({ type: "upload", path: join(ws.src, "b.txt"), source: join(ws.src, "b.txt") });
    try {
      await runtime.drain();
      assert.unreachable("drain must fail on a damaged index");
    } catch (err) {
      assert.instance(err, IndexDamagedError);
      assert.match((err as Error).message, /is missing/);
    }
    assert.instance(await runtime.halted, IndexDamagedError);
    assert.is((await batchFiles(ws)).length, before.length - 1, "no batch was written on top of the damaged index");
    // Stopping (with a drain) reports the damage and still releases the state cache and its lock.
    try {
      await engine.stop();
      assert.unreachable("stop must report the damaged index");
    } catch (err) {
      assert.instance(err, IndexDamagedError);
    }
    assert.not.ok(existsSync(join(ws.state, "lock")), "the instance lock was released");
  } finally {
    await engine.stop({ drain: false }).catch(() => undefined);
    await ws.cleanup();
  }
});

test("a batch truncated while the agent runs halts the next commit, naming the object", async () => {
  const ws = await workspace({ format: 1 });
  const engine = new Engine({ parameters: testParameters(ws), log: { sink: silentSink } });
  try {
    await writeFile(join(ws.src, "a.txt"), "a");
    const runtime = await engine.start();
    await engine.initialBackup();
    const last = (await batchFiles(ws)).at(-1)!;
    await truncate(last, 10);
    await writeFile(join(ws.src, "b.txt"), "b");
    await runtime.pipeline.enqueue({ type: "upload", path: join(ws.src, "b.txt"), source: join(ws.src, "b.txt") });
    const err = await runtime.drain().then(
      () => assert.unreachable("drain must fail on a truncated batch"),
      (e: unknown) => e as Error,
    );
    assert.instance(err, IndexDamagedError);
    assert.ok(err!.message.includes(last.slice(ws.store.length + 1)), err!.message);
  } finally {
    await engine.stop({ drain: false }).catch(() => undefined);
    await ws.cleanup();
  }
});

test("a state cache older than the newest checkpoint in the store is rebuilt from the store", async () => {
  const ws = await workspace({ format: 1 });
  const other = { remoteFileStateCachePath: join(ws.dir, "state-b") };
  try {
    await writeFile(join(ws.src, "a.txt"), "a");
    await backup(ws);
    await writeFile(join(ws.src, "b.txt"), "b");
    await backup(ws, other, { checkpointEvery: 1 });
    const repo = await Repository.open(new LocalDirectoryStorage({ path: ws.store }));
    assert.ok((await repo.listCheckpoints()).length > 0, "the other writer wrote a checkpoint");
    const third = await backup(ws);
    assert.is(third.sync.mode, "rebuilt");
    const tree = await loadTree(repo);
    assert.ok(tree.entries.has(join(ws.src, "b.txt")));
  } finally {
    await ws.cleanup();
  }
});

test("a point-in-time read over writers with different clocks sees each batch by its own time, and no false gap", async () => {
  const ws = await workspace({ format: 1 });
  try {
    const repo = await Repository.open(new LocalDirectoryStorage({ path: ws.store }), { create: { chunkSize: 65536 } });
    const put = (path: string) => ({ op: "put" as const, path, type: "file" as const, size: 0, mtimeMs: 1, mode: 0o644, uid: 0, gid: 0, chunks: [] });
    await repo.writeBatch(0, 1_000, [put("/a")]);
    await repo.writeBatch(1, 3_000, [put("/b")]); // a writer whose clock runs ahead
    await repo.writeBatch(2, 2_000, [put("/c")]);
    const tree = await loadTree(repo, { at: 2_500 });
    assert.equal([...tree.entries.keys()].sort(), ["/a", "/c"]);
    assert.equal([...(await loadTree(repo)).entries.keys()].sort(), ["/a", "/b", "/c"]);
  } finally {
    await ws.cleanup();
  }
});

test.run();
