// Format v2's packs on a store (PackStore): few objects for many blobs, one ranged read per blob, nothing lost when
// puts fail, and damage named.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalDirectoryStorage, StorageError } from "@rtbackup/core";
import { PackStore, packKey, type StoredBlob } from "@rtbackup/core/v2";
import { counting } from "./helpers/counting.js";
import { flaky, seeded } from "./helpers/flaky.js";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** A local store, with every call counted. */
async function store() {
  const dir = await mkdtemp(join(tmpdir(), "rtb-packstore-"));
  const local = new LocalDirectoryStorage({ path: dir });
  const { storage: counted, calls } = counting(local);
  return { dir, local, counted, calls, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** 1,000 small files' worth of blobs: half text-like, half random, 1–16 KiB. */
function smallBlobs(n: number): Buffer[] {
  const random = seeded(7);
  return Array.from({ length: n }, (_, i) => {
    const size = 1024 + Math.floor(random() * 15 * 1024);
    return i % 2 ? randomBytes(size) : Buffer.from(`line ${i} of a text file\n`.repeat(size / 24 + 1)).subarray(0, size);
  });
}

test("1,000 small blobs become one object per pack; each reads back alone with one ranged read", async () => {
  const s = await store();
  try {
    const packs = new PackStore(s.counted, { packSize: 4 * 1024 * 1024 });
    const blobs = smallBlobs(1000);
    for (const b of blobs) await packs.add(sha(b), b);
    const stored = await packs.flush();
    assert.is(stored.length, 1000);
    const packIds = new Set(stored.map((b) => b.pack));
    assert.ok(s.calls.put === packIds.size && packIds.size <= 3, `${s.calls.put} puts for ${packIds.size} packs (~6 MiB of blobs, 4 MiB packs)`);
    const listed = [];
    for await (const p of packs.list()) listed.push(p.id);
    assert.equal(listed.sort(), [...packIds].sort(), "list finds exactly the stored packs");
    const byId = new Map(stored.map((b) => [b.id, b]));
    s.calls.get = 0;
    s.calls.ranged = 0;
    for (const i of [0, 1, 500, 999]) assert.ok((await packs.read(byId.get(sha(blobs[i]!))!)).equals(blobs[i]!));
    assert.equal([s.calls.get, s.calls.ranged], [4, 4], "one ranged read per blob, never a whole pack");
    for (const id of packIds) {
      const contents = await packs.contents(id);
      assert.equal(
        contents.map((e) => e.id),
        stored.filter((b) => b.pack === id).map((b) => b.id),
        "the table of contents lists the pack's blobs in order",
      );
    }
    assert.equal(await packs.flush(), [], "a second flush hands out nothing new");
  } finally {
    await s.cleanup();
  }
});

test("a blob added twice is stored once, before and after a flush hands it out", async () => {
  const s = await store();
  try {
    const packs = new PackStore(s.counted);
    const b = Buffer.from("the same content");
    await packs.add(sha(b), b);
    await packs.add(sha(b), b);
    assert.ok(packs.pending(sha(b)));
    assert.is((await packs.flush()).length, 1);
    assert.ok(!packs.pending(sha(b)), "handed out: from now on the index knows where it is");
  } finally {
    await s.cleanup();
  }
});

test("puts that fail keep their packs: flush fails until they are stored, and then every blob is there", async () => {
  const s = await store();
  try {
    const counter = { failures: 0, enabled: true };
    const packs = new PackStore(flaky(s.local, 0.7, seeded(3), counter), { packSize: 256 * 1024 });
    const blobs = smallBlobs(200);
    for (const b of blobs) await packs.add(sha(b), b);
    let stored: StoredBlob[] = [];
    let failedFlushes = 0;
    for (;;) {
      try {
        stored = await packs.flush();
        break;
      } catch (err) {
        assert.instance(err, StorageError);
        failedFlushes++;
        if (failedFlushes === 3) counter.enabled = false;
      }
    }
    assert.ok(counter.failures > 0 && failedFlushes > 0, `${counter.failures} injected failures, ${failedFlushes} failed flushes`);
    assert.equal(new Set(stored.map((b) => b.id)), new Set(blobs.map(sha)), "every blob is handed out once its pack is stored");
    for (const [i, b] of blobs.entries()) if (i % 20 === 0) assert.ok((await packs.read(stored.find((x) => x.id === sha(b))!)).equals(b));
  } finally {
    await s.cleanup();
  }
});

test("a damaged pack is an INTEGRITY error naming the pack; other blobs still read", async () => {
  const s = await store();
  try {
    const packs = new PackStore(s.local, { packSize: 1 });
    const a = randomBytes(5000);
    const b = randomBytes(5000);
    await packs.add(sha(a), a);
    await packs.add(sha(b), b);
    const [blobA, blobB] = await packs.flush();
    assert.is.not(blobA!.pack, blobB!.pack, "packSize 1: each blob closes its own pack");
    const file = join(s.dir, packKey(blobA!.pack));
    const bytes = await readFile(file);
    bytes[blobA!.offset + 10]! ^= 0xff;
    await writeFile(file, bytes);
    const err = await packs.read(blobA!).then(
      () => undefined,
      (e: unknown) => e as StorageError,
    );
    assert.instance(err, StorageError);
    assert.is(err!.code, "INTEGRITY");
    assert.match(err!.message, blobA!.pack);
    assert.ok((await packs.read(blobB!)).equals(b));
    await writeFile(file, bytes.subarray(0, bytes.length - 3));
    const toc = await packs.contents(blobA!.pack).then(
      () => undefined,
      (e: unknown) => e as StorageError,
    );
    assert.match(toc?.message ?? "", /is corrupt: it does not end with the table-of-contents magic/);
  } finally {
    await s.cleanup();
  }
});

test.run();
