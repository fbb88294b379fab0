import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { LocalDirectoryStorage, isV2, openRepository, type StorageBackend } from "@rtbackup/core";
import { backupOnce, describe, makeSampleTree, restoreAll, workspace } from "./helpers/tree.js";

/** Records each put's key and size. */
function recordPuts(backend: StorageBackend, puts: { key: string; size: number }[]): StorageBackend {
  return {
    description: backend.description,
    put: (key, body, size) => {
      puts.push({ key, size });
      return backend.put(key, body, size);
    },
    get: (key, range) => backend.get(key, range),
    head: (key) => backend.head(key),
    list: (prefix) => backend.list(prefix),
    delete: (key) => backend.delete(key),
    sync: () => backend.sync?.() ?? Promise.resolve(),
  };
}

const kindOf = (key: string) => (key.startsWith("packs/") ? "pack" : /^lanes\/[0-9a-f]{32}\/batch\//.test(key) ? "batch" : key);

test("the engine creates v2 repositories: a tree and 1,000 small files round-trip in a handful of objects", async () => {
  const ws = await workspace();
  try {
    await makeSampleTree(ws.src);
    for (let d = 0; d < 20; d++) {
      await mkdir(join(ws.src, "many", `d${d}`), { recursive: true });
      for (let f = 0; f < 50; f++) await writeFile(join(ws.src, "many", `d${d}`, `f${f}.txt`), `file ${d}/${f} `.repeat(1 + ((d * 50 + f) % 300)));
    }
    const puts: { key: string; size: number }[] = [];
    await backupOnce(ws, { batchUploadConsolidationDelay: 2_000 }, (b) => recordPuts(b, puts));
    const repo = await openRepository(new LocalDirectoryStorage({ path: ws.store }));
    assert.ok(isV2(repo), "a new repository is format v2");
    const kinds = puts.map((p) => kindOf(p.key));
    assert.not.ok(
      puts.some((p) => p.key.startsWith("data/") || p.key.startsWith("index/batch/")),
      "no v1 objects",
    );
    // config, the lane object, packs and batches: a few objects, not one per file.
    assert.ok(puts.length <= 10, `objects written for 1,000+ files: ${puts.length} (${kinds.join(", ")})`);
    const { result } = await restoreAll(ws);
    assert.is(result.errors, 0);
    assert.equal(await describe(join(ws.out, ws.src.slice(1))), await describe(ws.src));

    const again: { key: string; size: number }[] = [];
    await backupOnce(ws, {}, (b) => recordPuts(b, again));
    assert.equal(again, [], "an unchanged tree writes nothing the second time");
  } finally {
    await ws.cleanup();
  }
});

test("a 1-byte insertion near the start of a large file uploads only the chunks around it", async () => {
  const ws = await workspace();
  try {
    const size = 48 * 1024 * 1024;
    const original = randomBytes(size);
    await writeFile(join(ws.src, "disk.img"), original);
    await backupOnce(ws);
    const changed = Buffer.concat([original.subarray(0, 1024 * 1024), Buffer.from([0x5a]), original.subarray(1024 * 1024)]);
    await writeFile(join(ws.src, "disk.img"), changed);
    const puts: { key: string; size: number }[] = [];
    await backupOnce(ws, {}, (b) => recordPuts(b, puts));
    const packed = puts.filter((p) => p.key.startsWith("packs/")).reduce((n, p) => n + p.size, 0);
    assert.ok(packed > 0 && packed <= 4 * 1024 * 1024, `bytes of packs written after the insertion: ${packed}`);
    const { result } = await restoreAll(ws);
    assert.is(result.errors, 0);
    assert.ok((await readFile(join(ws.out, ws.src.slice(1), "disk.img"))).equals(changed));
  } finally {
    await ws.cleanup();
  }
});

test("RepositoryFormat only chooses the format of a new repository: a v1 one stays v1", async () => {
  const ws = await workspace();
  try {
    await writeFile(join(ws.src, "a.txt"), "one");
    await backupOnce(ws, { repositoryFormat: 1 });
    await writeFile(join(ws.src, "b.txt"), "two");
    const puts: { key: string; size: number }[] = [];
    await backupOnce(ws, {}, (b) => recordPuts(b, puts));
    assert.ok(
      puts.some((p) => p.key.startsWith("index/batch/")),
      puts.map((p) => p.key).join(", "),
    );
    assert.not.ok(isV2(await openRepository(new LocalDirectoryStorage({ path: ws.store }))));
    const { result, tree } = await restoreAll(ws);
    assert.is(result.errors, 0);
    assert.ok(tree.entries.has(join(ws.src, "b.txt")));
  } finally {
    await ws.cleanup();
  }
});

test.run();
