// The merged tree built on disk (TreeSpill) is the tree built in memory (MapTree): the same records give the same
// entries, from a checkpoint and batches as from records alone; its scratch directory goes when it closes, and one a
// dead process left goes when the next opens.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalDirectoryStorage, decodeName, type FileEntry, type IndexRecord } from "@rtbackup/core";
import { MapTree, RepositoryV2, TreeSpill, checkpointOf, mergeTreeV2, readTreeV2 } from "@rtbackup/core/v2";
import { backupTree } from "./helpers/v2writer.js";

const withDir = async (fn: (dir: string) => Promise<void>) => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-tree-spill-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

/** A small xorshift generator: the same seed gives the same records. */
function random(seed: number) {
  let x = seed || 1;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

// Names that sort around '/' ('-' and '.' come before it, '0' after), one that is not UTF-8, and a long one (its
// paths are keyed by a hash, as are all below it).
const NAMES = ["a", "a-b", "a.x", "a0", "b", decodeName(Buffer.from([0x6e, 0xff, 0x6e])), "l".repeat(1000)];

function records(seed: number, count: number): IndexRecord[] {
  const pick = random(seed);
  const path = () => `/r${Array.from({ length: 1 + pick(3) }, () => `/${NAMES[pick(NAMES.length)]}`).join("")}`;
  const out: IndexRecord[] = [];
  for (let i = 0; i < count; i++) {
    const kind = pick(10);
    const entry = (p: string, type: "file" | "dir"): FileEntry => ({ path: p, type, size: 0, mtimeMs: i, mode: 0o644, uid: 0, gid: 0, chunks: [] });
    if (kind < 5) out.push({ op: "put", ...entry(path(), kind < 3 ? "dir" : "file") });
    else if (kind < 7) out.push({ op: "delete", path: path() });
    else {
      // Moves of a path into its own subtree, or onto an ancestor, are among them: rename(2) refuses them, only a
      // hostile index records them, and every view ignores them alike (before, their result hung on the order
      // entries were found in: a Map's, or key order).
      out.push({ op: "move", from: path(), to: path() });
    }
  }
  return out;
}

const sorted = (entries: Iterable<FileEntry>) => [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

test("the same records give the same tree on disk as in memory: puts, deletes and moves of files and subtrees", async () => {
  await withDir(async (dir) => {
    for (let seed = 1; seed <= 40; seed++) {
      const map = new MapTree();
      const spill = TreeSpill.open(dir);
      try {
        const all = records(seed, 300);
        // In batches, one write transaction each, as a merge applies them.
        for (let i = 0; i < all.length; i += 25) spill.write(() => all.slice(i, i + 25).forEach((r) => spill.apply(r)));
        all.forEach((r) => map.apply(r));
        assert.equal(sorted(spill.entryList()), sorted(map.entryList()), `seed ${seed}`);
        assert.is(spill.entryCount, map.entries.size);
      } finally {
        await spill.close();
      }
    }
    assert.equal(await readdir(dir), [], "every spill's directory is gone");
  });
});

test("a repository merged into a spill, from a checkpoint and later batches, is the tree readTreeV2 gives", async () => {
  await withDir(async (dir) => {
    const repo = await RepositoryV2.create(new LocalDirectoryStorage({ path: join(dir, "store") }), {
      packSize: 1 << 20,
      chunking: { minSize: 4096, avgSize: 16384, maxSize: 65536, seed: 0 },
    });
    const src = join(dir, "src");
    await mkdir(join(src, "sub"), { recursive: true });
    const lane = await repo.openLane();
    const known = new Set<string>();
    for (let i = 0; i < 3; i++) {
      await writeFile(join(src, "sub", `f${i}`), `content ${i} `.repeat(3000));
      await backupTree(repo, lane, src, known);
    }
    const first = await readTreeV2(repo);
    await repo.writeCheckpoint(lane.lane, checkpointOf(first), { lanes: first.covered, time: first.time });
    await writeFile(join(src, "sub", "f0"), "changed after the checkpoint");
    await rm(join(src, "sub", "f1"));
    await writeFile(join(src, "late"), "new");
    await backupTree(repo, lane, src, known);
    const expected = await readTreeV2(repo);
    assert.ok(expected.checkpoint, "the read starts from the checkpoint");
    const spill = TreeSpill.open(join(dir, "scratch"));
    try {
      const merged = await mergeTreeV2(repo, spill);
      assert.is(merged.checkpoint?.key, expected.checkpoint!.key);
      assert.equal(merged.covered, expected.covered);
      assert.equal(merged.damage, []);
      assert.equal(sorted(spill.entryList()), sorted(expected.entries.values()));
      const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1);
      assert.equal([...spill.locations()], [...expected.blobs.values()].sort(byId));
      assert.is(spill.blobCount, expected.blobs.size);
    } finally {
      await spill.close();
    }
  });
});

test("a spill a dead process left is removed by the next one opened there; a live one's is not", async () => {
  await withDir(async (dir) => {
    const dead = `tree-${2 ** 22 + 1}-0123abcd`;
    const live = `tree-${process.pid}-89abcdef`;
    for (const name of [dead, live, "state.mdb"]) await mkdir(join(dir, name));
    const spill = TreeSpill.open(dir);
    assert.equal((await readdir(dir)).sort(), [live, spill.directory.slice(dir.length + 1), "state.mdb"].sort());
    await spill.close();
    assert.equal((await readdir(dir)).sort(), ["state.mdb", live]);
  });
});

test.run();
