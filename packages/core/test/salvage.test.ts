// What a reader can tell about a damaged or lying index, and what salvage makes of it. Before: a checkpoint was
// trusted by its name alone (a checkpoint whose batch was lost, or whose time was before its batch's, gave an older
// or a future state with no damage reported), one refused record threw its whole batch away, a file whose chunk
// list does not fit its size was restored short or long, and a rewrite whose replaced batch was deleted went unseen.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { LocalDirectoryStorage, Repository, batchKey, checkpointKey, encodeIndexObject, loadTree, type FileEntry } from "@rtbackup/core";

const T = 1_795_000_000_000;
const dir = (path: string): Record<string, unknown> => ({ op: "put", path, type: "dir", size: 0, mtimeMs: T, mode: 0o755, uid: 0, gid: 0, chunks: [] });
const file = (path: string, size = 3, chunks = ["a".repeat(64)]): Record<string, unknown> => ({ ...dir(path), type: "file", mode: 0o644, size, chunks });
const entry = (r: Record<string, unknown>): FileEntry => {
  const { op: _op, ...e } = r;
  return e as unknown as FileEntry;
};

/** A fresh repository (chunk size 4096) in a temp directory, with a way to store raw index objects. */
async function repository() {
  const path = await mkdtemp(join(tmpdir(), "rtb-salvage-core-"));
  const storage = new LocalDirectoryStorage({ path });
  const repo = await Repository.open(storage, { create: { chunkSize: 4096 } });
  /** Stores a batch whose header and lines are given as is (the name takes `seq`/`time` unless told otherwise). */
  const rawBatch = async (header: Record<string, unknown>, lines: unknown[], name: { seq: number; time: number } = header as never) => {
    const { body, digest } = encodeIndexObject(header as never, lines);
    const key = batchKey(name.seq, name.time, digest);
    await mkdir(dirname(join(path, key)), { recursive: true });
    await writeFile(join(path, key), body);
    return key;
  };
  const rawCheckpoint = async (header: Record<string, unknown>, lines: unknown[], name: { seq: number; time: number } = header as never) => {
    const { body, digest } = encodeIndexObject(header as never, lines);
    const key = checkpointKey(name.seq, name.time, digest);
    await mkdir(dirname(join(path, key)), { recursive: true });
    await writeFile(join(path, key), body);
    return key;
  };
  return { path, repo, rawBatch, rawCheckpoint, cleanup: () => rm(path, { recursive: true, force: true }) };
}

test("a checkpoint beyond the last stored batch (the newest batch lost) is reported, and the batches are used", async () => {
  const r = await repository();
  try {
    await r.repo.writeBatch(0, T, [dir("/d") as never, file("/d/a") as never]);
    // Batch 1 (which deleted /d/a and added /d/b) was lost; the checkpoint written after it is still there.
    const key = await r.repo.writeCheckpoint(1, T + 1000, [entry(dir("/d")), entry(file("/d/b"))], 2);
    const tree = await loadTree(r.repo, { salvage: true });
    assert.is(tree.damage.length, 1, tree.damage.map((d) => d.message).join("\n"));
    assert.match(tree.damage[0]!.message, key);
    assert.match(tree.damage[0]!.message, /no batch 1 is stored/);
    assert.is(tree.damage[0]!.key, key);
    assert.equal([...tree.entries.keys()].sort(), ["/d", "/d/a"], "the state the stored batches give");
    assert.is(tree.sequence, 0);
  } finally {
    await r.cleanup();
  }
});

test("a checkpoint whose number has no batch while later batches exist falls back, and the gap is reported too", async () => {
  const r = await repository();
  try {
    await r.repo.writeBatch(0, T, [dir("/d") as never]);
    const ck = await r.repo.writeCheckpoint(1, T + 1000, [entry(dir("/d")), entry(file("/d/one"))], 2);
    await r.repo.writeBatch(2, T + 2000, [file("/d/two") as never]);
    const tree = await loadTree(r.repo, { salvage: true });
    const messages = tree.damage.map((d) => d.message).join("\n");
    assert.match(messages, new RegExp(`checkpoint ${ck}.*no batch 1 is stored \\(the next one is index/batch/`));
    assert.match(messages, /the index has a gap: no batch between 0 and 2/);
    assert.equal([...tree.entries.keys()].sort(), ["/d", "/d/two"]);
  } finally {
    await r.cleanup();
  }
});

test("a checkpoint whose time is before its own batch is not used for a point-in-time read", async () => {
  const r = await repository();
  try {
    await r.repo.writeBatch(0, T, [dir("/d") as never]);
    await r.repo.writeBatch(1, T + 10_000, [file("/d/late") as never]);
    // It claims the state after batch 1 existed at T + 5000, when only batch 0 did.
    const key = await r.repo.writeCheckpoint(1, T + 5000, [entry(dir("/d")), entry(file("/d/late"))], 2);
    const tree = await loadTree(r.repo, { at: T + 6000, salvage: true });
    assert.equal([...tree.entries.keys()], ["/d"], "the tree as of then has no /d/late");
    assert.is(tree.damage.length, 1);
    assert.match(tree.damage[0]!.message, key);
    assert.match(tree.damage[0]!.message, /before its own batch .*its time is false/);
  } finally {
    await r.cleanup();
  }
});

test("a checkpoint or batch whose header disagrees with its name is corrupt, named", async () => {
  const r = await repository();
  try {
    const good = await r.repo.writeBatch(0, T, [dir("/d") as never]);
    const lying = await r.rawBatch({ v: 1, kind: "batch", seq: 1, time: T + 50_000, count: 1 }, [file("/d/x")], { seq: 1, time: T + 1000 });
    const ck = await r.rawCheckpoint({ v: 1, kind: "checkpoint", seq: 5, time: T, count: 1 }, [dir("/d")], { seq: 0, time: T });
    const tree = await loadTree(r.repo, { salvage: true });
    const messages = tree.damage.map((d) => d.message).join("\n");
    assert.match(messages, new RegExp(`checkpoint ${ck} cannot be read .*header seq 5 does not match its name \\(0\\)`));
    assert.match(messages, new RegExp(`${lying}.*header time ${T + 50_000} does not match its name`));
    assert.ok(good);
    assert.equal([...tree.entries.keys()], ["/d"]);
    const kind = await r.rawBatch({ v: 1, kind: "checkpoint", seq: 2, time: T + 2000, count: 0 }, []);
    const again = await loadTree(r.repo, { salvage: true });
    assert.match(again.damage.map((d) => d.message).join("\n"), new RegExp(`${kind}.*header kind "checkpoint" is not "batch"`));
  } finally {
    await r.cleanup();
  }
});

test("salvage: a refused record is one damaged record, the rest of its batch is applied", async () => {
  const r = await repository();
  try {
    await r.repo.writeBatch(0, T, [dir("/d") as never]);
    const key = await r.rawBatch({ v: 1, kind: "batch", seq: 1, time: T + 1000, count: 4 }, [
      file("/d/before"),
      { ...file("/d/bad"), mode: 0o170777 },
      { ...file("/d/what"), type: "door" },
      file("/d/after"),
    ]);
    const tree = await loadTree(r.repo, { salvage: true });
    assert.equal([...tree.entries.keys()].sort(), ["/d", "/d/after", "/d/before"]);
    assert.is(tree.damage.length, 2, tree.damage.map((d) => d.message).join("\n"));
    assert.match(tree.damage[0]!.message, new RegExp(`index batch ${key} record 2 is refused .*mode 61951 is not permission bits`));
    assert.match(tree.damage[1]!.message, new RegExp(`index batch ${key} record 3 is refused .*bad type`));
    assert.is(tree.damage[0]!.key, key);
    // Without salvage (a writer), the batch is an error naming the object and the record.
    try {
      await loadTree(r.repo);
      assert.unreachable("read");
    } catch (err) {
      assert.match(String((err as Error).message), new RegExp(`${key}.*record 2`));
    }
  } finally {
    await r.cleanup();
  }
});

test("a file whose chunk count does not fit its size and the chunk size is refused", async () => {
  const r = await repository();
  try {
    const c = (n: number) => Array.from({ length: n }, (_, i) => String(i % 10).repeat(64));
    const key = await r.rawBatch({ v: 1, kind: "batch", seq: 0, time: T, count: 5 }, [
      file("/ok-one", 4096, c(1)),
      file("/ok-two", 4097, c(2)),
      file("/ok-empty", 0, []),
      file("/short", 8193, c(2)),
      file("/long", 10, c(2)),
    ]);
    const tree = await loadTree(r.repo, { salvage: true });
    assert.equal([...tree.entries.keys()].sort(), ["/ok-empty", "/ok-one", "/ok-two"]);
    const messages = tree.damage.map((d) => d.message);
    assert.is(messages.length, 2, messages.join("\n"));
    assert.match(messages[0]!, new RegExp(`${key} record 4 .*size 8193 needs 3 chunk\\(s\\) of 4096 bytes, the record has 2`));
    assert.match(messages[1]!, /record 5 .*size 10 needs 1 chunk\(s\) of 4096 bytes, the record has 2/);
  } finally {
    await r.cleanup();
  }
});

test("a rewrite whose replaced batch is no longer stored is reported; its records still count once", async () => {
  const r = await repository();
  try {
    await r.repo.writeBatch(0, T, [dir("/d") as never]);
    // The writer's first try at 1 was deleted from the store; its rewrite at 2 names it.
    const gone = batchKey(1, T + 1000, "e".repeat(64));
    await r.repo.writeBatch(1, T + 1000, [file("/d/other") as never]);
    await r.repo.writeBatch(2, T + 2000, [file("/d/mine") as never], [gone]);
    const tree = await loadTree(r.repo, { salvage: true });
    assert.equal([...tree.entries.keys()].sort(), ["/d", "/d/mine", "/d/other"]);
    assert.is(tree.damage.length, 1);
    assert.match(tree.damage[0]!.message, new RegExp(`index batch ${gone}, which a later batch replaces, is not stored`));
  } finally {
    await r.cleanup();
  }
});

test("an honest checkpoint is used, with no damage", async () => {
  const r = await repository();
  try {
    await r.repo.writeBatch(0, T, [dir("/d") as never]);
    await r.repo.writeBatch(1, T + 1000, [file("/d/a") as never]);
    await r.repo.writeCheckpoint(1, T + 1000, [entry(dir("/d")), entry(file("/d/a"))], 2);
    await r.repo.writeBatch(2, T + 2000, [file("/d/b") as never]);
    const tree = await loadTree(r.repo, { salvage: true });
    assert.equal(tree.damage, []);
    assert.is(tree.batchesRead, 1, "only the batch after the checkpoint");
    assert.equal([...tree.entries.keys()].sort(), ["/d", "/d/a", "/d/b"]);
  } finally {
    await r.cleanup();
  }
});

test.run();
