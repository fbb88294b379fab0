import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Engine, LocalDirectoryStorage, Repository, StateCache, loadTree, silentSink, type StorageBackend } from "@rtbackup/core";
import { testParameters, workspace, type Workspace } from "./helpers/tree.js";

/** Resolves every caller once `n` callers are waiting. */
function barrier(n: number): () => Promise<void> {
  const waiting: (() => void)[] = [];
  return () =>
    new Promise((resolve) => {
      waiting.push(resolve);
      if (waiting.length === n) for (const release of waiting) release();
    });
}

/** Holds the first index batch this backend writes until `gate` opens, so two writers pick the same number. */
function gateFirstBatch(backend: StorageBackend, gate: () => Promise<void>): StorageBackend {
  let armed = true;
  return {
    description: backend.description,
    put: async (key, body, size) => {
      if (armed && key.includes("index/batch/")) {
        armed = false;
        await gate();
      }
      return backend.put(key, body, size);
    },
    get: (key, range) => backend.get(key, range),
    head: (key) => backend.head(key),
    list: (prefix) => backend.list(prefix),
    delete: (key) => backend.delete(key),
  };
}

async function writer(ws: Workspace, name: string, wrap?: (b: StorageBackend) => StorageBackend) {
  const src = join(ws.dir, name);
  await mkdir(src, { recursive: true });
  const engine = new Engine({
    parameters: testParameters(ws, { backupRoots: [src], remoteFileStateCachePath: join(ws.dir, `state-${name}`) }),
    log: { sink: silentSink },
  });
  if (wrap) engine.hooks.wrapStorage.tap("test", wrap);
  return { name, src, engine };
}

async function commitFile(w: Awaited<ReturnType<typeof writer>>, file: string) {
  const runtime = w.engine.runtime;
  await writeFile(join(w.src, file), `${w.name} ${file}`);
  await runtime.pipeline.enqueue({ type: "upload", path: join(w.src, file), source: join(w.src, file) });
  await runtime.drain();
}

test("two writers that commit under the same sequence number both keep their commits; caches agree with readers", async () => {
  const ws = await workspace({ format: 1 });
  const gate = barrier(2);
  const writers = [await writer(ws, "alpha", (b) => gateFirstBatch(b, gate)), await writer(ws, "beta", (b) => gateFirstBatch(b, gate))];
  try {
    for (const w of writers) await writeFile(join(w.src, "first.txt"), `${w.name} first`);
    for (const w of writers) await w.engine.start({ checkpointEvery: 1_000_000 });
    await Promise.all(writers.map((w) => w.engine.initialBackup()));
    const repo = await Repository.open(new LocalDirectoryStorage({ path: ws.store }));
    const zero = [];
    for await (const name of repo.listBatches(0)) if (name.seq === 0) zero.push(name.key);
    assert.is(zero.length, 2, "both writers wrote batch 0");
    const replaced = new Set<string>();
    for await (const name of repo.listBatches(0)) for (const k of (await repo.readBatch(name)).header.replaces ?? []) replaced.add(k);
    // A writer that listed before the other's batch appeared keeps the number; every other one rewrote its batch.
    assert.ok(zero.filter((k) => !replaced.has(k)).length <= 1, "at most one batch 0 is not rewritten under a higher number");
    assert.ok(zero.some((k) => replaced.has(k)));
    // One more commit each: every writer's cache then holds what a reader of the store sees.
    for (const w of writers) await commitFile(w, "second.txt");
    for (const w of writers) await commitFile(w, "third.txt");
    const tree = await loadTree(repo);
    for (const w of writers) for (const f of ["first.txt", "second.txt", "third.txt"]) assert.ok(tree.entries.has(join(w.src, f)), `${w.name}/${f} lost`);
    const expected = [...tree.entries.keys()].sort();
    for (const w of writers) {
      const cached = [...w.engine.runtime.cache.entries()].map((e) => e.path).sort();
      // The first writer committed its third file before the other did: only that one is news to it.
      const news = w === writers[0] ? [join(writers[1]!.src, "third.txt")] : [];
      assert.equal(
        cached,
        expected.filter((p) => !news.includes(p)),
        `${w.name}'s state cache differs from the store`,
      );
      assert.is(w.engine.runtime.cache.inflight, undefined);
    }
    assert.ok(writers.some((w) => w.engine.runtime.committer.stats.conflicts > 0));
    // A checkpoint written now covers both writers' commits.
    await writers[0]!.engine.runtime.committer.checkpoint();
    const checkpoint = (await repo.listCheckpoints()).at(-1);
    assert.ok(checkpoint, "a checkpoint was written once the conflict was resolved");
    const after = await loadTree(repo);
    assert.equal([...after.entries.keys()].sort(), expected);
  } finally {
    for (const w of writers) await w.engine.stop().catch(() => undefined);
    await ws.cleanup();
  }
});

test("a batch left in flight beside another writer's is rewritten at the next start, and applied once", async () => {
  const ws = await workspace({ format: 1 });
  const w = await writer(ws, "alpha");
  try {
    await writeFile(join(w.src, "a.txt"), "a");
    await w.engine.start();
    await w.engine.initialBackup();
    const last = w.engine.runtime.cache.lastSequence;
    await w.engine.stop();
    // Simulate a crash: our batch and another writer's share number last+1, and ours was never confirmed.
    const repo = await Repository.open(new LocalDirectoryStorage({ path: ws.store }));
    const put = (path: string) => ({ op: "put" as const, path, type: "file" as const, size: 0, mtimeMs: 1, mode: 0o644, uid: 0, gid: 0, chunks: [] });
    await repo.writeBatch(last + 1, Date.now(), [put(join(ws.dir, "beta", "theirs.txt"))]);
    const ours = repo.encodeBatch(last + 1, Date.now() + 1, [put(join(w.src, "ours.txt"))]);
    await repo.putBatch(ours);
    const cache = await StateCache.open(join(ws.dir, "state-alpha"));
    await cache.setInflight({ seq: last + 1, time: Date.now() + 1, key: ours.key, records: [put(join(w.src, "ours.txt"))], replaces: [] });
    await cache.close();
    await w.engine.start();
    const runtime = w.engine.runtime;
    assert.is(runtime.cache.inflight, undefined, "the interrupted batch was completed");
    const rewrites = [];
    for await (const name of repo.listBatches(last + 2)) rewrites.push((await repo.readBatch(name)).header);
    assert.equal(
      rewrites.map((h) => h.replaces),
      [[ours.key]],
    );
    const tree = await loadTree(repo);
    assert.ok(tree.entries.has(join(w.src, "ours.txt")) && tree.entries.has(join(ws.dir, "beta", "theirs.txt")));
    assert.equal([...runtime.cache.entries()].map((e) => e.path).sort(), [...tree.entries.keys()].sort());
  } finally {
    await w.engine.stop().catch(() => undefined);
    await ws.cleanup();
  }
});

test("no checkpoint hides a batch another writer left beside ours under the same number", async () => {
  const ws = await workspace({ format: 1 });
  const w = await writer(ws, "alpha");
  try {
    await writeFile(join(w.src, "a.txt"), "a");
    await w.engine.start({ checkpointEvery: 1_000_000 });
    await w.engine.initialBackup();
    const runtime = w.engine.runtime;
    // A writer that picked our last number, wrote its batch after we confirmed ours, and never came back.
    const repo = await Repository.open(new LocalDirectoryStorage({ path: ws.store }));
    const late = join(ws.dir, "beta", "late.txt");
    await repo.writeBatch(runtime.cache.lastSequence, Date.now(), [
      { op: "put", path: late, type: "file", size: 0, mtimeMs: 1, mode: 0o644, uid: 0, gid: 0, chunks: [] },
    ]);
    await commitFile(w, "b.txt");
    await runtime.committer.checkpoint();
    assert.equal(await repo.listCheckpoints(), [], "the checkpoint waits until the conflict is rewritten");
    const tree = await loadTree(repo);
    assert.ok(tree.entries.has(late), "the other writer's commit is visible");
    assert.ok(tree.entries.has(join(w.src, "b.txt")));
  } finally {
    await w.engine.stop().catch(() => undefined);
    await ws.cleanup();
  }
});

test.run();
