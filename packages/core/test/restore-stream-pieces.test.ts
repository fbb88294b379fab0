// A store's ranged reads arrive in pieces of any size (an object store: socket reads of 16-64 KiB), and a v2 restore
// cuts each blob of a pack run out of those pieces as they come. Pieces of 5 bytes, 4093 bytes and 64 KiB, a store that
// sends more than asked and one that ends short: every file comes back exact or is named as failed, nothing else.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { LocalDirectoryStorage, Restorer, loadTree, openRepository, type StorageBackend } from "@rtbackup/core";
import { backupOnce, describe, workspace, type Workspace } from "./helpers/tree.js";

/** The backend with every ranged read re-cut into pieces of `size` bytes; `skew` adds or drops bytes at the end. */
function pieces(backend: StorageBackend, size: number, skew = 0, calls = { ranged: 0 }): StorageBackend {
  return {
    description: backend.description,
    put: (key, body, length) => backend.put(key, body, length),
    head: (key) => backend.head(key),
    list: (prefix) => backend.list(prefix),
    delete: (key) => backend.delete(key),
    async get(key, range) {
      if (!range) return backend.get(key, range);
      calls.ranged++;
      const end = skew > 0 ? range.end : range.end + skew;
      const bytes: Buffer[] = [];
      for await (const c of await backend.get(key, { start: range.start, end: Math.max(range.start, end) })) bytes.push(c as Buffer);
      let all = Buffer.concat(bytes);
      if (skew > 0) all = Buffer.concat([all, Buffer.alloc(skew, 0xaa)]);
      const parts: Buffer[] = [];
      for (let at = 0; at < all.length; at += size) parts.push(all.subarray(at, at + size));
      return Readable.from(parts);
    },
  };
}

async function restoreThrough(ws: Workspace, storage: StorageBackend, out: string) {
  const tree = await loadTree(await openRepository(storage));
  return new Restorer(tree.chunks).restore(Restorer.select(tree.entries, [ws.src], true).entries, out);
}

test("a v2 restore cuts blobs out of pieces of any size, and a store sending more or less than asked loses only what it cut off", async () => {
  const ws = await workspace();
  try {
    // Small files (packed side by side in one run), and a large one (content-defined chunks over several runs).
    for (let i = 0; i < 40; i++) await writeFile(join(ws.src, `small-${i}.txt`), `file ${i} `.repeat(1 + i * 37));
    await writeFile(join(ws.src, "large.bin"), randomBytes(3 * 1024 * 1024 + 12345));
    await backupOnce(ws);
    const want = await describe(ws.src);
    const local = new LocalDirectoryStorage({ path: ws.store });
    // One piece per read: the ranged reads a restore needs (one per run of a pack's neighbouring blobs).
    const whole = { ranged: 0 };
    assert.is((await restoreThrough(ws, pieces(local, 1 << 30, 0, whole), join(ws.dir, "out-whole"))).errors, 0);
    for (const size of [5, 4093, 65536]) {
      const out = join(ws.dir, `out-${size}`);
      const calls = { ranged: 0 };
      const result = await restoreThrough(ws, pieces(local, size, 0, calls), out);
      assert.is(result.errors, 0, `pieces of ${size}`);
      // A blob cut wrong would fail its hash and be read again on its own (and come back right): count the reads.
      assert.is(calls.ranged, whole.ranged, `pieces of ${size}: no blob needed a read of its own`);
      assert.equal(await describe(join(out, ws.src.slice(1))), want, `pieces of ${size}`);
    }
    const more = join(ws.dir, "out-more");
    assert.is((await restoreThrough(ws, pieces(local, 4096, 100), more)).errors, 0, "bytes past the range are not taken for a blob");
    assert.equal(await describe(join(more, ws.src.slice(1))), want);

    // Every ranged read one byte short: the last blob of each run is then read on its own, which is short too and
    // fails its file, naming it; every other file still comes back exact.
    const short = join(ws.dir, "out-short");
    const result = await restoreThrough(ws, pieces(local, 4096, -1), short);
    assert.ok(result.errors >= 1, "what was cut off is named");
    assert.ok(result.restored > 0, "the rest is restored");
    for (const name of (await describe(join(short, ws.src.slice(1)))).keys()) {
      if (!name.startsWith("/small-")) continue;
      assert.is(await readFile(join(short, ws.src.slice(1), name), "utf8"), await readFile(join(ws.src, name), "utf8"), name);
    }
  } finally {
    await ws.cleanup();
  }
});

test.run();
