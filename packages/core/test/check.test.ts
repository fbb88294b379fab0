import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { LocalDirectoryStorage, Repository, checkRepository, dataKey, loadTree, parseReadDataSubset, sha256Hex, type Damage } from "@rtbackup/core";
import { backupOnce, workspace, type Workspace } from "./helpers/tree.js";

const open = (ws: Workspace) => Repository.open(new LocalDirectoryStorage({ path: ws.store }));
const chunkFile = (ws: Workspace, id: string) => join(ws.store, dataKey(id));
const ofKind = (damage: Damage[], kind: Damage["kind"]) => damage.filter((d) => d.kind === kind);

async function batchFiles(ws: Workspace): Promise<string[]> {
  const dir = join(ws.store, "index", "batch", "00000000");
  return (await readdir(dir)).sort().map((n) => join(dir, n));
}

/** A later batch must carry a later time (batch times are ms). */
const tick = () => new Promise((r) => setTimeout(r, 5));
/** One backup, one batch, however slow the machine: the batch closes at the end of the backup, not after 20 ms. */
const once = (ws: Workspace) => backupOnce(ws, { batchUploadConsolidationDelay: 5000 });

test("a healthy store has no damage; orphan data objects are counted, not damage", async () => {
  const ws = await workspace({ format: 1 });
  try {
    await writeFile(join(ws.src, "a.txt"), "alpha");
    await writeFile(join(ws.src, "b.txt"), "beta");
    await once(ws);
    const orphan = randomBytes(100);
    const orphanId = sha256Hex(orphan);
    await mkdir(dirname(chunkFile(ws, orphanId)), { recursive: true });
    await writeFile(chunkFile(ws, orphanId), orphan);
    await writeFile(join(ws.store, "data", "stray-object"), "x");
    const outcome = await checkRepository(await open(ws), { readData: true });
    assert.equal(outcome.damage, []);
    assert.equal(outcome.warnings, []);
    assert.is(outcome.summary.chunksReferenced, 2);
    assert.is(outcome.summary.chunksPresent, 2);
    assert.is(outcome.summary.chunksRead, 2);
    assert.is(outcome.summary.orphans, 2);
    assert.is(outcome.summary.orphanBytes, 101);
  } finally {
    await ws.cleanup();
  }
});

test("a deleted chunk is named with every version that needs it (path, batch seq and time, current or not)", async () => {
  const ws = await workspace({ format: 1 });
  try {
    await writeFile(join(ws.src, "a.txt"), "shared content");
    await writeFile(join(ws.src, "other.txt"), "unrelated");
    await once(ws);
    await tick();
    await writeFile(join(ws.src, "copy.txt"), "shared content");
    await writeFile(join(ws.src, "a.txt"), "new content of a");
    await once(ws);
    const id = sha256Hex(Buffer.from("shared content"));
    await rm(chunkFile(ws, id));
    const repo = await open(ws);
    const outcome = await checkRepository(repo);
    assert.is(outcome.damage.length, 1, JSON.stringify(outcome.damage));
    const [d] = outcome.damage;
    assert.is(d!.kind, "chunk-missing");
    assert.is(d!.key, dataKey(id));
    assert.match(d!.message, dataKey(id));
    const batches = [];
    for await (const b of repo.listBatches()) batches.push(b);
    const versions = d!.dependents!.map((v) => `${v.path.slice(ws.src.length)} ${v.seq} ${v.time} ${v.current}`).sort();
    assert.equal(versions, [`/a.txt 0 ${batches[0]!.time} false`, `/copy.txt 1 ${batches[1]!.time} true`]);
    assert.is(d!.dependentCount, 2);
  } finally {
    await ws.cleanup();
  }
});

test("a flipped byte is invisible to a listing-only check and found by --read-data", async () => {
  const ws = await workspace({ format: 1 });
  try {
    await writeFile(join(ws.src, "precious.txt"), "the precious content");
    await once(ws);
    const id = sha256Hex(Buffer.from("the precious content"));
    const bytes = await readFile(chunkFile(ws, id));
    bytes[3] ^= 0x01;
    await writeFile(chunkFile(ws, id), bytes);
    const listing = await checkRepository(await open(ws));
    assert.equal(listing.damage, [], "same size, so the listing cannot tell");
    const read = await checkRepository(await open(ws), { readData: true });
    assert.is(read.damage.length, 1);
    assert.is(read.damage[0]!.kind, "chunk-corrupt");
    assert.match(read.damage[0]!.message, `content object ${dataKey(id)} is corrupt`);
    assert.match(read.damage[0]!.dependents![0]!.path, /precious\.txt$/);
  } finally {
    await ws.cleanup();
  }
});

test("a truncated chunk is corrupt by its listed size alone", async () => {
  const ws = await workspace({ format: 1 });
  try {
    await writeFile(join(ws.src, "f.txt"), "0123456789");
    await once(ws);
    const id = sha256Hex(Buffer.from("0123456789"));
    await truncate(chunkFile(ws, id), 4);
    const outcome = await checkRepository(await open(ws));
    assert.equal(
      outcome.damage.map((d) => d.kind),
      ["chunk-corrupt"],
    );
    assert.match(outcome.damage[0]!.message, "it has 4 bytes, the index says 10");
  } finally {
    await ws.cleanup();
  }
});

test("a truncated batch is named with its sequence number and time; the rest is still checked", async () => {
  const ws = await workspace({ format: 1 });
  try {
    await writeFile(join(ws.src, "one.txt"), "one");
    await once(ws);
    await tick();
    await writeFile(join(ws.src, "two.txt"), "two");
    await once(ws);
    const [first, second] = await batchFiles(ws);
    await truncate(second!, 10);
    await rm(chunkFile(ws, sha256Hex(Buffer.from("one"))));
    const outcome = await checkRepository(await open(ws));
    const bad = ofKind(outcome.damage, "batch-unreadable");
    assert.is(bad.length, 1);
    assert.is(bad[0]!.seq, 1);
    assert.is(bad[0]!.key, second!.slice(ws.store.length + 1));
    assert.match(bad[0]!.message, `index batch 1 of ${new Date(bad[0]!.time!).toISOString()}`);
    const missing = ofKind(outcome.damage, "chunk-missing");
    assert.is(missing.length, 1, "batch 0 is still checked");
    assert.match(missing[0]!.dependents![0]!.path, /one\.txt$/);
    assert.ok(first);
  } finally {
    await ws.cleanup();
  }
});

test("a batch deleted in the middle is a gap; a checkpoint beyond the batches and a lost newest batch too", async () => {
  const ws = await workspace({ format: 1 });
  try {
    for (const n of ["a", "b", "c"]) {
      await writeFile(join(ws.src, `${n}.txt`), n);
      await once(ws);
      await tick();
    }
    const files = await batchFiles(ws);
    assert.is(files.length, 3, "one batch per backup");
    await rm(files[1]!);
    const repo = await open(ws);
    const outcome = await checkRepository(repo);
    const gaps = ofKind(outcome.damage, "sequence-gap");
    assert.equal(
      gaps.map((g) => g.missing),
      [{ from: 1, to: 1 }],
    );
    assert.match(gaps[0]!.message, "batch 1 is missing");
    // The newest batches gone, with nothing beyond them, are only visible against what a state cache applied.
    await rm(files[2]!);
    assert.equal(ofKind((await checkRepository(repo)).damage, "sequence-gap"), []);
    const expected = await checkRepository(repo, { expectSequence: 2 });
    assert.equal(
      ofKind(expected.damage, "sequence-gap").map((g) => g.missing),
      [{ from: 1, to: 2 }],
    );
    assert.match(expected.damage[0]!.message, "the local state cache applied batch 2");
    // A checkpoint claiming batch 5 while batches end at 0.
    await repo.writeCheckpoint(5, Date.now(), [], 0);
    const lying = await checkRepository(repo);
    assert.equal(
      ofKind(lying.damage, "sequence-gap").map((g) => g.missing),
      [{ from: 1, to: 5 }],
    );
    assert.ok(lying.warnings.some((w) => w.kind === "checkpoint-unverified" && w.seq === 5));
  } finally {
    await ws.cleanup();
  }
});

test("a checkpoint that disagrees with its batches is reported with the differing paths; an agreeing one is not", async () => {
  const ws = await workspace({ format: 1 });
  try {
    await writeFile(join(ws.src, "keep.txt"), "keep");
    await writeFile(join(ws.src, "mode.txt"), "mode");
    await once(ws);
    const repo = await open(ws);
    const tree = await loadTree(repo);
    const entries = [...tree.entries.values()];
    await repo.writeCheckpoint(tree.sequence, tree.time, entries, entries.length);
    assert.equal((await checkRepository(repo)).damage, [], "a faithful checkpoint agrees");
    const wrong = entries.map((e) => (e.path.endsWith("mode.txt") ? { ...e, mode: 0o6777 } : e));
    wrong.push({ ...entries[0]!, path: join(ws.src, "invented.txt") });
    const key = await repo.writeCheckpoint(tree.sequence, tree.time, wrong, wrong.length);
    const outcome = await checkRepository(repo);
    const mismatch = ofKind(outcome.damage, "checkpoint-mismatch");
    assert.is(mismatch.length, 1, JSON.stringify(outcome.damage));
    assert.is(mismatch[0]!.key, key);
    assert.is(mismatch[0]!.pathCount, 2);
    assert.equal(mismatch[0]!.paths!.sort(), [join(ws.src, "invented.txt"), join(ws.src, "mode.txt")]);
    const late = await repo.writeCheckpoint(tree.sequence, tree.time + 1000, entries, entries.length);
    const timed = ofKind((await checkRepository(repo)).damage, "checkpoint-mismatch").find((d) => d.key === late);
    assert.ok(timed, "a checkpoint whose time is not its batches' time disagrees");
    assert.match(timed!.message, "is not the time of its batches");
  } finally {
    await ws.cleanup();
  }
});

test("several live batches under one number are a warning; a batch that replaces the other resolves it", async () => {
  const ws = await workspace({ format: 1 });
  try {
    await writeFile(join(ws.src, "x.txt"), "x");
    await once(ws);
    const repo = await open(ws);
    const tree = await loadTree(repo);
    const entry = [...tree.entries.values()].find((e) => e.path.endsWith("x.txt"))!;
    const t = tree.time + 10;
    const one = await repo.writeBatch(1, t, [{ op: "put", ...entry, mode: 0o600 }]);
    await repo.writeBatch(1, t + 1, [{ op: "put", ...entry, mode: 0o640 }]);
    const dup = await checkRepository(repo);
    assert.equal(dup.damage, []);
    assert.equal(
      dup.warnings.map((w) => [w.kind, w.seq, w.keys.length]),
      [["duplicate-sequence", 1, 2]],
    );
    await repo.writeBatch(2, t + 2, [{ op: "put", ...entry, mode: 0o600 }], [one]);
    const resolved = await checkRepository(repo);
    assert.equal(resolved.warnings, []);
    assert.equal(resolved.damage, []);
  } finally {
    await ws.cleanup();
  }
});

test("--read-data-subset: 100% equals --read-data, a small slice reads fewer, n/t slices cover every chunk once", async () => {
  const ws = await workspace({ format: 1 });
  try {
    await writeFile(join(ws.src, "big.bin"), randomBytes(4096 * 40));
    await backupOnce(ws, { chunkSize: 4096 });
    const repo = await open(ws);
    const full = await checkRepository(repo, { readData: true });
    assert.is(full.summary.chunksRead, 40);
    const all = await checkRepository(repo, { readData: true, subset: parseReadDataSubset("100%") });
    assert.equal(all.summary, full.summary);
    const few = await checkRepository(repo, { readData: true, subset: parseReadDataSubset("10%", 0) });
    assert.ok(few.summary.chunksRead < 40, `${few.summary.chunksRead} read`);
    let total = 0;
    for (let n = 1; n <= 4; n++) total += (await checkRepository(repo, { readData: true, subset: parseReadDataSubset(`${n}/4`) })).summary.chunksRead;
    assert.is(total, 40);
    for (const bad of ["0%", "101%", "5/4", "0/3", "ten", "1/0"]) {
      assert.throws(
        () => parseReadDataSubset(bad),
        (err: Error) => err.message.includes(`"${bad}"`),
        bad,
      );
    }
  } finally {
    await ws.cleanup();
  }
});

test.run();
