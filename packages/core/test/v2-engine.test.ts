import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Engine, LocalDirectoryStorage, Restorer, isV2, loadTree, openRepository, silentSink, type RestoreEvent } from "@rtbackup/core";
import { RepositoryV2, readTreeV2 } from "@rtbackup/core/v2";
import { counting, recordPuts } from "./helpers/counting.js";
import { backupOnce, describe, makeSampleTree, restoreAll, testParameters, workspace, type Workspace } from "./helpers/tree.js";

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

test("restore reads neighbouring blobs of a pack at once, yet one damaged blob fails only its own file", async () => {
  const ws = await workspace();
  try {
    for (let i = 0; i < 40; i++) await writeFile(join(ws.src, `f${i}.txt`), `file ${i} `.repeat(50 + i));
    await backupOnce(ws);
    const repo = await RepositoryV2.open(new LocalDirectoryStorage({ path: ws.store }));
    const tree = await readTreeV2(repo);
    const victim = tree.entries.get(join(ws.src, "f7.txt"))!;
    const blob = tree.blobs.get(victim.chunks[0]!)!;
    const packFile = join(ws.store, "packs", blob.pack.slice(0, 2), blob.pack);
    const bytes = await readFile(packFile);
    bytes[blob.offset + Math.floor(blob.length / 2)]! ^= 0xff;
    await writeFile(packFile, bytes);
    const { storage: counted, calls } = counting(new LocalDirectoryStorage({ path: ws.store }));
    const reading = await loadTree(await openRepository(counted));
    const before = calls.get;
    const events: RestoreEvent[] = [];
    const result = await new Restorer(reading.chunks, { onEvent: (e) => events.push(e) }).restore(
      Restorer.select(reading.entries, [ws.src], true).entries,
      ws.out,
    );
    assert.is(result.errors, 1);
    const failed = events.filter((e) => e.event === "error");
    assert.equal(
      failed.map((e) => e.path),
      [victim.path],
    );
    assert.match((failed[0] as { error: string }).error, new RegExp(`pack packs/${blob.pack.slice(0, 2)}/${blob.pack}`));
    assert.ok(calls.get - before < 10, `reads of packs for 40 files: ${calls.get - before}`);
    for (let i = 0; i < 40; i++) {
      if (i === 7) continue;
      assert.is(await readFile(join(ws.out, ws.src.slice(1), `f${i}.txt`), "utf8"), `file ${i} `.repeat(50 + i));
    }
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

/** `files` small files over `dirs` directories, backed up once with `checkpointEvery`; the repository it wrote. */
async function checkpointedBackup(ws: Workspace, o: { files: number; dirs: number; delay: number; checkpointEvery: number }): Promise<RepositoryV2> {
  for (let i = 0; i < o.files; i++) {
    await mkdir(join(ws.src, `d${i % o.dirs}`), { recursive: true });
    await writeFile(join(ws.src, `d${i % o.dirs}`, `f${i}`), `content ${i}`);
  }
  const engine = new Engine({ parameters: testParameters(ws, { batchUploadConsolidationDelay: o.delay }), log: { sink: silentSink } });
  await engine.start({ checkpointEvery: o.checkpointEvery });
  try {
    await engine.initialBackup();
  } finally {
    await engine.stop();
  }
  return RepositoryV2.open(new LocalDirectoryStorage({ path: ws.store }));
}

test("the engine writes v2 checkpoints from the merged tree; readers and a new state cache start from them", async () => {
  const ws = await workspace();
  try {
    const repo = await checkpointedBackup(ws, { files: 120, dirs: 4, delay: 5, checkpointEvery: 40 });
    const checkpoints = await repo.checkpoints();
    assert.ok(checkpoints.length >= 1, "a checkpoint was written");
    const tree = await readTreeV2(repo);
    assert.ok(tree.checkpoint, "the reader starts from it");
    assert.equal(tree.damage, []);
    const { result } = await restoreAll(ws);
    assert.is(result.errors, 0);
    assert.equal(await describe(join(ws.out, ws.src.slice(1))), await describe(ws.src));
    // A new state directory is rebuilt from the store: nothing is uploaded again.
    const puts: { key: string; size: number }[] = [];
    const scan = await backupOnce(ws, { remoteFileStateCachePath: join(ws.dir, "fresh-state") }, (b) => recordPuts(b, puts));
    assert.equal(
      puts.filter((p) => p.key.startsWith("packs/")),
      [],
      `nothing stored again (${scan.changed} queued)`,
    );
  } finally {
    await ws.cleanup();
  }
});

test("an initial backup writes checkpoints of a growing tree at doubling intervals, not every CheckpointEvery records", async () => {
  const ws = await workspace();
  try {
    // Small batches, so that the committer looks at its checkpoint rule often.
    const repo = await checkpointedBackup(ws, { files: 640, dirs: 8, delay: 1, checkpointEvery: 20 });
    const checkpoints = await repo.checkpoints();
    // 649 records: one every 20 would be about 32 checkpoints; doubling from 20 gives at most log2(649 / 20) + 1.
    assert.ok(checkpoints.length >= 1 && checkpoints.length <= 7, `${checkpoints.length} checkpoints`);
    const sizes: number[] = [];
    for (const name of checkpoints) sizes.push((await repo.readCheckpoint(name)).entries.length);
    for (let i = 1; i < sizes.length; i++) assert.ok(sizes[i]! >= sizes[i - 1]! * 1.5, `each checkpoint's tree is larger by half: ${sizes.join(", ")}`);
    // Each was merged in a scratch store beside the state cache, and none is left there.
    assert.equal(
      (await readdir(ws.state)).filter((n) => n.startsWith("tree-")),
      [],
    );
    const tree = await readTreeV2(repo);
    assert.equal(tree.damage, []);
    assert.is(tree.entries.size, 649);
    const { result } = await restoreAll(ws);
    assert.is(result.errors, 0);
    assert.equal(await describe(join(ws.out, ws.src.slice(1))), await describe(ws.src));
  } finally {
    await ws.cleanup();
  }
});

test("two engines with their own state directories back up into one prefix at once; a path both write follows the later commit", async () => {
  const ws = await workspace();
  try {
    const shared = join(ws.src, "shared");
    await mkdir(shared);
    const roots = ["alpha", "beta"].map((name) => join(ws.src, name));
    for (const [i, root] of roots.entries()) {
      for (let d = 0; d < 5; d++) {
        await mkdir(join(root, `d${d}`), { recursive: true });
        for (let f = 0; f < 20; f++) await writeFile(join(root, `d${d}`, `f${f}`), `${i} ${d} ${f} `.repeat(1 + f));
      }
    }
    const engines = roots.map(
      (root, i) =>
        new Engine({
          parameters: testParameters(ws, { backupRoots: [root, shared], remoteFileStateCachePath: join(ws.dir, `state-${i}`) }),
          log: { sink: silentSink },
        }),
    );
    const note = join(shared, "note.txt");
    await writeFile(note, "written first, backed up by alpha");
    let firstDone = 0;
    await Promise.all(engines.map((e) => e.start()));
    try {
      await Promise.all(engines.map((e) => e.initialBackup()));
      firstDone = Date.now();
      await new Promise((r) => setTimeout(r, 20));
      await writeFile(note, "written later, backed up by beta");
      await engines[1]!.initialBackup();
    } finally {
      await Promise.all(engines.map((e) => e.stop()));
    }
    const repo = await RepositoryV2.open(new LocalDirectoryStorage({ path: ws.store }));
    const lanes = await repo.lanes();
    assert.is(lanes.size, 2, "one lane per engine");
    const { result, tree } = await restoreAll(ws);
    assert.is(result.errors, 0);
    assert.equal(tree.damage, []);
    assert.equal(await describe(join(ws.out, ws.src.slice(1)), false), await describe(ws.src, false), "both trees, complete");
    assert.is(await readFile(join(ws.out, note.slice(1)), "utf8"), "written later, backed up by beta", "the later commit wins");
    const before = join(ws.dir, "as-of-first");
    await restoreAll(ws, { at: firstDone, out: before, paths: [note] });
    assert.is(await readFile(join(before, note.slice(1)), "utf8"), "written first, backed up by alpha", "and the earlier one stays readable");
  } finally {
    await ws.cleanup();
  }
});

test.run();
