// `checkRepository` with --repair, and checks of damage that hides paths (split from check.test.ts).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { appendFile, readdir, readFile, rename, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  LocalDirectoryStorage,
  Repository,
  StateCache,
  StorageError,
  checkRepository,
  dataKey,
  loadTree,
  repairChunks,
  sha256Hex,
  type StorageBackend,
} from "@rtbackup/core";
import { backupOnce, workspace, type Workspace } from "./helpers/tree.js";

const open = (ws: Workspace) => Repository.open(new LocalDirectoryStorage({ path: ws.store }));
const chunkFile = (ws: Workspace, id: string) => join(ws.store, dataKey(id));

async function batchFiles(ws: Workspace): Promise<string[]> {
  const dir = join(ws.store, "index", "batch", "00000000");
  return (await readdir(dir)).sort().map((n) => join(dir, n));
}

test("--repair stores again a deleted chunk whose file is still on disk; then the check is clean", async () => {
  const ws = await workspace({ format: 1 });
  try {
    const content = randomBytes(4096 * 3 + 100);
    await writeFile(join(ws.src, "data.bin"), content);
    await backupOnce(ws, { chunkSize: 4096 });
    const middle = sha256Hex(content.subarray(4096, 8192));
    const last = sha256Hex(content.subarray(3 * 4096));
    await rm(chunkFile(ws, middle));
    await rm(chunkFile(ws, last));
    // Appended to since: the 100 bytes of the last chunk are still there, at its offset and length.
    await appendFile(join(ws.src, "data.bin"), "appended later");
    const repo = await open(ws);
    const outcome = await checkRepository(repo);
    assert.equal(outcome.damage.map((d) => d.chunk).sort(), [middle, last].sort());
    const result = await repairChunks(repo, outcome);
    assert.equal(
      result.repaired.map((r) => [r.chunk, r.from]).sort(),
      [
        [middle, join(ws.src, "data.bin")],
        [last, join(ws.src, "data.bin")],
      ].sort(),
    );
    assert.equal(result.left, []);
    assert.equal(await readFile(chunkFile(ws, middle)), content.subarray(4096, 8192));
    assert.equal(await readFile(chunkFile(ws, last)), content.subarray(3 * 4096));
    assert.equal((await checkRepository(repo, { readData: true })).damage, []);
  } finally {
    await ws.cleanup();
  }
});

test("--repair never stores wrong bytes: a chunk whose file changed on disk is left, and nothing is written", async () => {
  const ws = await workspace({ format: 1 });
  try {
    await writeFile(join(ws.src, "f.txt"), "original bytes");
    await backupOnce(ws);
    const id = sha256Hex(Buffer.from("original bytes"));
    await rm(chunkFile(ws, id));
    await writeFile(join(ws.src, "f.txt"), "modified bytes");
    const repo = await open(ws);
    const result = await repairChunks(repo, await checkRepository(repo));
    assert.equal(result.repaired, []);
    assert.equal(
      result.left.map((l) => [l.chunk, l.paths]),
      [[id, [join(ws.src, "f.txt")]]],
    );
    assert.match(result.left[0]!.reason, "no longer in the file");
    assert.is(await repo.hasChunk(id), false);
    assert.equal(await readdir(join(ws.store, "data", id.slice(0, 2))).catch(() => []), []);
  } finally {
    await ws.cleanup();
  }
});

test("--repair records unrepaired damage in the state cache, so the next backup uploads the content again", async () => {
  const ws = await workspace({ format: 1 });
  try {
    await writeFile(join(ws.src, "a.txt"), "content that moves");
    await backupOnce(ws);
    const id = sha256Hex(Buffer.from("content that moves"));
    await rm(chunkFile(ws, id));
    // The file moved on disk while no agent ran: the index still names the old path, which repair cannot read.
    await rename(join(ws.src, "a.txt"), join(ws.src, "b.txt"));
    const repo = await open(ws);
    const cache = await StateCache.open(ws.state);
    let result;
    try {
      assert.ok(cache.hasChunk(id), "the cache believed it stored");
      result = await repairChunks(repo, await checkRepository(repo), { cache });
      assert.is(cache.hasChunk(id), false);
      assert.is(cache.get(join(ws.src, "a.txt"))?.ino, 0);
    } finally {
      await cache.close();
    }
    assert.equal(result.repaired, []);
    assert.equal(result.recorded, { chunks: 1, paths: 1 });
    await backupOnce(ws);
    assert.ok(await repo.hasChunk(id), "the backup uploaded the chunk the cache no longer believed stored");
    assert.equal((await checkRepository(repo, { readData: true })).damage, []);
  } finally {
    await ws.cleanup();
  }
});

test("a moved file's new path depends on its chunks; --repair overwrites a corrupt chunk with verified bytes", async () => {
  const ws = await workspace({ format: 1 });
  try {
    await writeFile(join(ws.src, "a.txt"), "moving bytes");
    await backupOnce(ws);
    const repo = await open(ws);
    const tree = await loadTree(repo);
    await repo.writeBatch(1, tree.time + 1, [{ op: "move", from: join(ws.src, "a.txt"), to: join(ws.src, "moved.txt") }]);
    await rename(join(ws.src, "a.txt"), join(ws.src, "moved.txt"));
    const id = sha256Hex(Buffer.from("moving bytes"));
    const bytes = await readFile(chunkFile(ws, id));
    bytes[0] ^= 0x40;
    await writeFile(chunkFile(ws, id), bytes);
    const outcome = await checkRepository(repo, { readData: true });
    assert.equal(
      outcome.damage.map((d) => d.kind),
      ["chunk-corrupt"],
    );
    const versions = outcome.damage[0]!.dependents!.map((v) => [v.path.slice(ws.src.length), v.seq, v.current]);
    assert.equal(versions, [
      ["/a.txt", 0, false],
      ["/moved.txt", 1, true],
    ]);
    const result = await repairChunks(repo, outcome);
    assert.equal(
      result.repaired.map((r) => r.from),
      [join(ws.src, "moved.txt")],
    );
    assert.is((await repo.getChunk(id)).toString(), "moving bytes");
    assert.equal((await checkRepository(repo, { readData: true })).damage, []);
  } finally {
    await ws.cleanup();
  }
});

test("a corrupt checkpoint is named; the batches are still replayed and checked", async () => {
  const ws = await workspace({ format: 1 });
  try {
    await writeFile(join(ws.src, "a.txt"), "a");
    await backupOnce(ws);
    const repo = await open(ws);
    const tree = await loadTree(repo);
    const key = await repo.writeCheckpoint(tree.sequence, tree.time, [...tree.entries.values()], tree.entries.size);
    const file = join(ws.store, key);
    const bytes = await readFile(file);
    bytes[bytes.length - 5] ^= 0xff;
    await writeFile(file, bytes);
    await rm(chunkFile(ws, sha256Hex(Buffer.from("a"))));
    const outcome = await checkRepository(repo);
    assert.equal(
      outcome.damage.map((d) => [d.kind, d.key]),
      [
        ["checkpoint-unreadable", key],
        ["chunk-missing", dataKey(sha256Hex(Buffer.from("a")))],
      ],
    );
    assert.match(outcome.damage[0]!.message, `checkpoint 0 of ${new Date(tree.time).toISOString()} (${key}) cannot be read`);
  } finally {
    await ws.cleanup();
  }
});

test("--repair also finds the bytes through the state cache when index damage hides the file's current path", async () => {
  const ws = await workspace({ format: 1 });
  try {
    await writeFile(join(ws.src, "a.txt"), "bytes that moved");
    await backupOnce(ws);
    const repo = await open(ws);
    const move = { op: "move" as const, from: join(ws.src, "a.txt"), to: join(ws.src, "b.txt") };
    await repo.writeBatch(1, (await loadTree(repo)).time + 1, [move]);
    await rename(join(ws.src, "a.txt"), join(ws.src, "b.txt"));
    const cache = await StateCache.open(ws.state);
    try {
      await cache.applyBatch(1, [move]);
      await truncate((await batchFiles(ws))[1]!, 8);
      const id = sha256Hex(Buffer.from("bytes that moved"));
      await rm(chunkFile(ws, id));
      const outcome = await checkRepository(repo);
      assert.equal(outcome.damage.map((d) => d.kind).sort(), ["batch-unreadable", "chunk-missing"]);
      assert.equal((await repairChunks(repo, outcome)).repaired, [], "the replayed tree only knows a.txt");
      const result = await repairChunks(repo, outcome, { cache });
      assert.equal(
        result.repaired.map((r) => r.from),
        [join(ws.src, "b.txt")],
      );
      assert.ok(await repo.hasChunk(id));
    } finally {
      await cache.close();
    }
  } finally {
    await ws.cleanup();
  }
});

test("a store that cannot be reached is an error, not damage", async () => {
  const ws = await workspace({ format: 1 });
  try {
    await writeFile(join(ws.src, "a.txt"), "a");
    await backupOnce(ws);
    const local = new LocalDirectoryStorage({ path: ws.store });
    const repo = await Repository.open(local);
    let failing = false;
    const flaky: StorageBackend = {
      description: "flaky",
      put: (k, b, s) => local.put(k, b, s),
      get: (k, r) => (failing ? Promise.reject(new StorageError("STORAGE_FAILED", `get ${k}: connection reset`)) : local.get(k, r)),
      head: (k) => local.head(k),
      list: (p) => local.list(p),
      delete: (k) => local.delete(k),
    };
    const through = await Repository.open(flaky);
    failing = true;
    await checkRepository(through).then(
      () => assert.unreachable("must throw"),
      (err: StorageError) => assert.is(err.code, "STORAGE_FAILED"),
    );
    assert.equal((await checkRepository(repo)).damage, []);
  } finally {
    await ws.cleanup();
  }
});

test.run();
