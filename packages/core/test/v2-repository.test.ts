// A whole v2 repository (RepositoryV2, readTreeV2): packs, content-defined chunks, lanes of two writers at once,
// point-in-time reads and damage. The agent does not write v2 yet; this is the format working end to end.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, writeFile, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalDirectoryStorage } from "@rtbackup/core";
import { RepositoryV2, readFileV2, readTreeV2 } from "@rtbackup/core/v2";
import { backupTree } from "./helpers/v2writer.js";

const CHUNKING = { minSize: 4096, avgSize: 16384, maxSize: 65536, seed: 0 };
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function setup() {
  const dir = await mkdtemp(join(tmpdir(), "rtb-v2-"));
  const storage = new LocalDirectoryStorage({ path: join(dir, "store") });
  const repo = await RepositoryV2.create(storage, { prefix: "hosts/shared/", packSize: 1 << 20, chunking: CHUNKING });
  return { dir, storage, repo, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

async function tree(root: string, name: string) {
  await mkdir(join(root, "docs"), { recursive: true });
  await writeFile(join(root, "docs", "hello.txt"), `hello from ${name}\n`);
  await writeFile(join(root, "empty"), "");
  await writeFile(join(root, "big.bin"), randomBytes(300_000));
  await symlink("docs/hello.txt", join(root, "link"));
}

test("a tree round-trips through packs and content-defined chunks, read back blob by blob", async () => {
  const s = await setup();
  try {
    const src = join(s.dir, "src");
    await tree(src, "alpha");
    const lane = await s.repo.openLane(undefined, "alpha");
    await backupTree(s.repo, lane, src, new Set());
    const reopened = await RepositoryV2.open(s.storage, { prefix: "hosts/shared/" });
    assert.equal(reopened.config.chunking, { kind: "fastcdc", ...CHUNKING });
    const t = await readTreeV2(reopened);
    assert.equal(t.damage, []);
    const big = t.entries.get(join(src, "big.bin"))!;
    assert.ok(big.chunks.length > 5, `${big.chunks.length} chunks for 300 kB at 16 KiB average`);
    const data = await readFileV2(reopened, t, big);
    assert.is(data.length, 300_000);
    assert.is(t.entries.get(join(src, "link"))!.target, "docs/hello.txt");
    assert.is((await readFileV2(reopened, t, t.entries.get(join(src, "docs", "hello.txt"))!)).toString(), "hello from alpha\n");
    const packs = await readdir(join(s.dir, "store", "hosts", "shared", "packs"), { recursive: true });
    assert.ok(packs.filter((p) => p.length > 3).length <= 2, `objects for the content: ${packs.length}`);
  } finally {
    await s.cleanup();
  }
});

test("two writers back up into one prefix at once: both trees complete, the later put of a shared path wins", async () => {
  const s = await setup();
  try {
    const [a, b] = [join(s.dir, "a"), join(s.dir, "b")];
    await tree(a, "a");
    await tree(b, "b");
    await mkdir(join(s.dir, "shared"));
    const repoA = s.repo;
    const repoB = await RepositoryV2.open(s.storage, { prefix: "hosts/shared/" });
    const [laneA, laneB] = await Promise.all([repoA.openLane(undefined, "a"), repoB.openLane(undefined, "b")]);
    await Promise.all([backupTree(repoA, laneA, a, new Set()), backupTree(repoB, laneB, b, new Set())]);
    const shared = join(s.dir, "shared", "note.txt");
    const put = async (repo: RepositoryV2, lane: typeof laneA, text: string) => {
      await writeFile(shared, text);
      const id = sha(Buffer.from(text));
      await repo.packs.add(id, Buffer.from(text));
      return (await lane.commit([{ op: "put", path: shared, type: "file", size: text.length, mtimeMs: 0, mode: 0o644, uid: 0, gid: 0, chunks: [id] }])).name;
    };
    const first = await put(repoB, laneB, "b wrote first");
    await new Promise((r) => setTimeout(r, 5));
    const second = await put(repoA, laneA, "a wrote later");
    assert.ok(second.time > first.time);
    const t = await readTreeV2(await RepositoryV2.open(s.storage, { prefix: "hosts/shared/" }));
    assert.equal(t.damage, []);
    for (const root of [a, b]) {
      for (const p of ["docs/hello.txt", "empty", "big.bin", "link"]) assert.ok(t.entries.has(join(root, p)), `${root}/${p}`);
    }
    assert.is((await readFileV2(s.repo, t, t.entries.get(shared)!)).toString(), "a wrote later", "the later commit wins");
    const asOfFirst = await readTreeV2(s.repo, { at: first.time });
    assert.is(
      (await readFileV2(s.repo, asOfFirst, asOfFirst.entries.get(shared)!)).toString(),
      "b wrote first",
      "and each version stays readable as of its time",
    );
  } finally {
    await s.cleanup();
  }
});

test("a lost batch is damage that names its lane; a lost pack fails the read of what it held, naming it", async () => {
  const s = await setup();
  try {
    const src = join(s.dir, "src");
    await tree(src, "x");
    const lane = await s.repo.openLane(undefined, "x");
    const known = new Set<string>();
    await backupTree(s.repo, lane, src, known);
    await writeFile(join(src, "docs", "hello.txt"), "second version\n");
    const middle = await backupTree(s.repo, lane, src, known);
    await writeFile(join(src, "docs", "hello.txt"), "third version\n");
    await backupTree(s.repo, lane, src, known);
    await rm(join(s.dir, "store", "hosts", "shared", middle.key));
    const t = await readTreeV2(s.repo);
    assert.equal(
      t.damage.map((d) => [d.kind, d.lane, d.seq]),
      [["gap", lane.lane, 2]],
    );
    assert.is((await readFileV2(s.repo, t, t.entries.get(join(src, "docs", "hello.txt"))!)).toString(), "hello from x\n", "applied up to the damage");
    const packDir = join(s.dir, "store", "hosts", "shared", "packs");
    for (const sub of await readdir(packDir)) await rm(join(packDir, sub), { recursive: true });
    const err = await readFileV2(s.repo, t, t.entries.get(join(src, "big.bin"))!).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.match(err?.message ?? "", /not found: hosts\/shared\/packs\//);
  } finally {
    await s.cleanup();
  }
});

test.run();
