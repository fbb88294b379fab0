// Packs and large reads reuse memory they have touched before (a page fault per fresh 4 KiB costs more than the
// compression or the hash). Reuse must never change bytes still on their way to the store: a pack's memory serves the
// next pack only after its put has settled, a read buffer the next read only after every chunk cut from it was taken.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { LocalDirectoryStorage, StorageError, type StorageBackend } from "@rtbackup/core";
import { PackStore, type StoredBlob } from "@rtbackup/core/v2";
import { backupOnce, describe, restoreAll, workspace } from "./helpers/tree.js";
import { seeded } from "./helpers/flaky.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A store that reads each put's stream slowly (a pause between parts, as a slow upload would), and fails the first
 * `failures` puts of packs after reading all of their bytes. What it stores is what it read.
 */
function slowStore(backend: StorageBackend, failures: number, stats = { puts: 0, failed: 0 }): StorageBackend {
  return {
    description: `slow(${backend.description})`,
    async put(key, body, size) {
      stats.puts++;
      const stream = typeof body === "function" ? await body() : Readable.from([body]);
      const parts: Buffer[] = [];
      for await (const part of stream) {
        parts.push(Buffer.from(part as Buffer));
        await delay(1);
      }
      if (/(^|\/)(packs|data)\//.test(key) && stats.failed < failures) {
        stats.failed++;
        throw new StorageError("STORAGE_FAILED", `injected failure: put ${key}`, { key, transient: true });
      }
      await backend.put(key, Buffer.concat(parts), size);
    },
    get: (key, range) => backend.get(key, range),
    head: (key) => backend.head(key),
    list: (prefix) => backend.list(prefix),
    delete: (key) => backend.delete(key),
  };
}

/** Blobs from 1 KiB to 3 MiB, random and text-like, so that stored blobs span segments of a pack. */
function mixedBlobs(n: number): Buffer[] {
  const random = seeded(11);
  return Array.from({ length: n }, (_, i) => {
    const size = i % 7 === 0 ? 1024 * 1024 + Math.floor(random() * 2 * 1024 * 1024) : 1024 + Math.floor(random() * 60 * 1024);
    return i % 2 ? randomBytes(size) : Buffer.from(`blob ${i}, line of text\n`.repeat(size / 20 + 1)).subarray(0, size);
  });
}

test("packs built while earlier ones are still being stored (or failed to store) keep every byte", async () => {
  const ws = await workspace();
  try {
    const local = new LocalDirectoryStorage({ path: ws.store });
    const stats = { puts: 0, failed: 0 };
    const packs = new PackStore(slowStore(local, 2, stats), { packSize: 1024 * 1024 });
    const blobs = mixedBlobs(120);
    // Added from several "files" at once: a filled pack is being stored while the next ones fill.
    await Promise.all(
      [0, 1, 2, 3].map(async (lane) => {
        for (let i = lane; i < blobs.length; i += 4) await packs.add(sha(blobs[i]!), blobs[i]!);
      }),
    );
    let stored: StoredBlob[] = [];
    for (let attempt = 0; ; attempt++) {
      try {
        stored = await packs.flush();
        break;
      } catch (err) {
        assert.instance(err, StorageError);
        assert.ok(attempt < 3, "the failed packs are stored at a later flush");
      }
    }
    assert.is(stats.failed, 2, "two puts failed after reading their bytes");
    assert.ok(stats.puts >= 10, `${stats.puts} puts: many packs, so segments were reused`);
    // Every pack on disk is named by the hash of its bytes, so a byte changed after its hash was taken shows here.
    const dirs = await readdir(join(ws.store, "packs"));
    let files = 0;
    for (const d of dirs) {
      for (const name of await readdir(join(ws.store, "packs", d))) {
        files++;
        assert.is(sha(await readFile(join(ws.store, "packs", d, name))), name, `pack ${name} holds the bytes it was named for`);
      }
    }
    assert.ok(files >= 8);
    const byId = new Map(stored.map((b) => [b.id, b]));
    for (const b of blobs) assert.ok((await packs.read(byId.get(sha(b))!)).equals(b), "every blob reads back");
  } finally {
    await ws.cleanup();
  }
});

for (const format of [1, 2] as const) {
  test(`format v${format}: large files read through pooled buffers while a slow store still streams their chunks`, async () => {
    const ws = await workspace({ format });
    try {
      // Three files of 20-40 MiB: several pooled reads each, chunks cut across read boundaries, identical regions.
      const shared = randomBytes(5 * 1024 * 1024);
      for (const [i, size] of [20, 33, 40].entries()) {
        const text = Buffer.from(`file ${i} text region\n`.repeat(200_000));
        await writeFile(join(ws.src, `big-${i}.bin`), Buffer.concat([randomBytes(size * 1024 * 1024 - shared.length - text.length), shared, text]));
      }
      await backupOnce(ws, {}, (backend) => slowStore(backend, 1));
      const { result } = await restoreAll(ws);
      assert.is(result.errors, 0);
      assert.equal(await describe(join(ws.out, ws.src.slice(1))), await describe(ws.src), "every byte of every file comes back");
    } finally {
      await ws.cleanup();
    }
  });
}

test.run();
