// History on a scripted timeline: every version of a path (puts, moves, deletes of a directory above it, two lanes),
// commit summaries with and without a path, diffs between moments, v1 journals, damage named while the rest is
// shown, and the moments `--at` accepts.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import {
  LocalDirectoryStorage,
  Repository,
  diffTrees,
  loadTree,
  parseMoment,
  readHistory,
  summarizeCommits,
  versionsOf,
  type FileEntry,
  type IndexRecord,
} from "@rtbackup/core";
import { RepositoryV2 } from "@rtbackup/core/v2";
import { withTempDir } from "./helpers/tempDir.js";

const MIN = 60_000;

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("rtb-history-", fn);

/** A put of a file holding `text` (its blob stored), or of a directory. */
async function put(repo: RepositoryV2, path: string, text?: string): Promise<IndexRecord> {
  const base = { path, mtimeMs: 1_700_000_000_000, mode: 0o644, uid: 0, gid: 0 };
  if (text === undefined) return { op: "put", ...base, type: "dir", size: 0, mode: 0o755, chunks: [] };
  const data = Buffer.from(text);
  const id = repo.cipher.blobId(data);
  await repo.packs.add(id, data);
  return { op: "put", ...base, type: "file", size: data.length, chunks: [id] };
}

/**
 * The timeline (minutes): 1 alpha puts /d, /d/a "a1", /d/b "b1"; 2 beta puts /d/a "a2!"; 3 alpha moves /d/b to
 * /d/c; 4 beta deletes /d; 5 alpha puts /d and /d/a "a3"; 6 alpha puts /x and moves it to /y in one commit, then
 * puts /y again in the same commit.
 */
async function scripted(dir: string) {
  const repo = await RepositoryV2.create(new LocalDirectoryStorage({ path: join(dir, "store") }));
  const alpha = await repo.openLane("a".repeat(32), "alpha");
  const beta = await repo.openLane("b".repeat(32), "beta");
  const t0 = Date.UTC(2026, 11, 1, 12, 0, 0);
  await alpha.commit([await put(repo, "/d"), await put(repo, "/d/a", "a1"), await put(repo, "/d/b", "b1")], { time: t0 + MIN });
  await beta.commit([await put(repo, "/d/a", "a2!")], { time: t0 + 2 * MIN });
  await alpha.commit([{ op: "move", from: "/d/b", to: "/d/c" }], { time: t0 + 3 * MIN });
  await beta.commit([{ op: "delete", path: "/d" }], { time: t0 + 4 * MIN });
  await alpha.commit([await put(repo, "/d"), await put(repo, "/d/a", "a3")], { time: t0 + 5 * MIN });
  await alpha.commit([await put(repo, "/x", "x"), { op: "move", from: "/x", to: "/y" }, await put(repo, "/z", "z")], { time: t0 + 6 * MIN });
  return { repo, t0 };
}

const brief = (vs: ReturnType<typeof versionsOf>, t0: number) =>
  vs.map((v) => `${(v.time - t0) / MIN} ${v.event} ${v.path}${v.from ? ` <- ${v.from}` : ""}${v.entry?.type === "file" ? ` ${v.entry.size}` : ""}`);

test("versionsOf: puts, a move in, the delete of a directory above, lanes merged by time", async () => {
  await withDir(async (dir) => {
    const { repo, t0 } = await scripted(dir);
    const history = await readHistory(repo);
    assert.equal(history.damage, []);
    assert.is(history.commits.length, 6);
    assert.equal(history.hosts.get("a".repeat(32)), "alpha");
    assert.equal(brief(versionsOf(history.commits, "/d/a"), t0), ["1 put /d/a 2", "2 put /d/a 3", "4 deleted /d/a", "5 put /d/a 2"]);
    assert.equal(brief(versionsOf(history.commits, "/d/c"), t0), ["3 moved /d/c <- /d/b 2", "4 deleted /d/c"]);
    assert.equal(brief(versionsOf(history.commits, "/d/b"), t0), ["1 put /d/b 2", "3 deleted /d/b"]);
    assert.equal(versionsOf(history.commits, "/d/a")[1]!.writer, "b".repeat(32));
    // Put then moved in one commit: /x never shows, /y arrived by the move.
    assert.equal(brief(versionsOf(history.commits, "/x"), t0), []);
    assert.equal(brief(versionsOf(history.commits, "/y"), t0), ["6 moved /y <- /x 1"]);
    assert.equal(brief(versionsOf(history.commits, "/d", { recursive: true }), t0), [
      "1 put /d",
      "1 put /d/a 2",
      "1 put /d/b 2",
      "2 put /d/a 3",
      "3 deleted /d/b",
      "3 moved /d/c <- /d/b 2",
      "4 deleted /d",
      "4 deleted /d/a",
      "4 deleted /d/c",
      "5 put /d",
      "5 put /d/a 2",
    ]);
    // Each version's time is one `--at` takes back: the tree then holds that version.
    for (const v of versionsOf(history.commits, "/d/a")) {
      const tree = await loadTree(repo, { at: v.time });
      assert.is(tree.entries.get("/d/a")?.chunks[0], v.entry?.chunks[0], `at ${v.time - t0}`);
    }
    assert.equal(versionsOf(history.commits, "/nothing"), []);
  });
});

test("summarizeCommits: counts and bytes, a time window, and a path (moves and deletes above it count)", async () => {
  await withDir(async (dir) => {
    const { repo, t0 } = await scripted(dir);
    const { commits } = await readHistory(repo);
    const rows = summarizeCommits(commits).map((s) => [(s.time - t0) / MIN, s.put, s.moved, s.deleted, s.bytes]);
    assert.equal(rows, [
      [1, 3, 0, 0, 4],
      [2, 1, 0, 0, 3],
      [3, 0, 1, 0, 0],
      [4, 0, 0, 1, 0],
      [5, 2, 0, 0, 2],
      [6, 2, 1, 0, 2],
    ]);
    assert.ok(summarizeCommits(commits)[0]!.storedBytes! > 0, "what the first commit stored is counted");
    assert.equal(
      summarizeCommits(commits, { since: t0 + 2 * MIN, until: t0 + 4 * MIN }).map((s) => (s.time - t0) / MIN),
      [2, 3, 4],
    );
    assert.equal(
      summarizeCommits(commits, { path: "/d/b" }).map((s) => [(s.time - t0) / MIN, s.put + s.moved + s.deleted]),
      [
        [1, 1],
        [3, 1],
        [4, 1],
      ],
    );
  });
});

test("diffTrees between two moments: added, removed, changed with the parts that differ; under a path", async () => {
  await withDir(async (dir) => {
    const { repo, t0 } = await scripted(dir);
    const at = async (m: number) => (await loadTree(repo, { at: t0 + m * MIN })).entries;
    const show = (a: Map<string, FileEntry>, b: Map<string, FileEntry>, root?: string) =>
      diffTrees(a, b, root).map((c) => `${c.kind} ${c.path}${c.parts.length ? ` ${c.parts.join(",")}` : ""}`);
    assert.equal(show(await at(1), await at(3)), ["changed /d/a content,size", "removed /d/b", "added /d/c"]);
    assert.equal(show(await at(3), await at(4)), ["removed /d", "removed /d/a", "removed /d/c"]);
    assert.equal(show(await at(0), await at(6), "/d"), ["added /d", "added /d/a"]);
    assert.equal(show(await at(6), await at(6)), []);
  });
});

test("readHistory: a lost batch is named, the other commits are shown; v1 journals read too", async () => {
  await withDir(async (dir) => {
    const { repo, t0 } = await scripted(dir);
    const laneDir = join(dir, "store", "lanes", "b".repeat(32), "batch");
    const group = (await readdir(laneDir))[0]!;
    const first = (await readdir(join(laneDir, group))).sort()[0]!;
    await unlink(join(laneDir, group, first));
    const history = await readHistory(repo);
    assert.is(history.damage.length, 1);
    assert.match(history.damage[0]!.message, /lane b{32}/);
    assert.equal(brief(versionsOf(history.commits, "/d/a"), t0), ["1 put /d/a 2", "4 deleted /d/a", "5 put /d/a 2"]);

    const v1 = await Repository.open(new LocalDirectoryStorage({ path: join(dir, "v1") }), { create: { chunkSize: 1024 * 1024 } });
    await v1.writeBatch(0, t0 + MIN, [{ op: "put", path: "/f", type: "file", size: 0, mtimeMs: 0, mode: 0o644, uid: 0, gid: 0, chunks: [] }]);
    await v1.writeBatch(1, t0 + 2 * MIN, [{ op: "delete", path: "/f" }]);
    const h1 = await readHistory(v1);
    assert.equal(
      versionsOf(h1.commits, "/f").map((v) => `${v.event} ${v.writer}`),
      ["put journal", "deleted journal"],
    );
  });
});

test("parseMoment: ISO, ms, now, today, yesterday, N units ago (calendar months), and what it refuses", () => {
  const now = new Date(2026, 2, 31, 15, 30, 0).getTime(); // 31 March, local time
  assert.is(parseMoment("1700000000000", now), 1_700_000_000_000);
  assert.is(parseMoment("2026-01-31T12:00:00.000Z", now), Date.UTC(2026, 0, 31, 12));
  assert.is(parseMoment("now", now), now);
  assert.is(parseMoment("2h ago", now), now - 2 * 3_600_000);
  assert.is(parseMoment("30 min ago", now), now - 30 * MIN);
  assert.is(parseMoment("3 days ago", now), now - 3 * 86_400_000);
  assert.is(parseMoment("1 week ago", now), now - 7 * 86_400_000);
  assert.is(parseMoment("1.5h ago", now), now - 1.5 * 3_600_000);
  assert.is(parseMoment("today", now), new Date(2026, 2, 31).getTime());
  assert.is(parseMoment("Yesterday", now), new Date(2026, 2, 30).getTime());
  assert.is(parseMoment("1 month ago", now), new Date(2026, 1, 28, 15, 30).getTime());
  assert.is(parseMoment("1 year ago", now), new Date(2025, 2, 31, 15, 30).getTime());
  for (const bad of ["", "soon", "5 fortnights ago", "1.5 months ago", "2h", "ago"]) assert.is(parseMoment(bad, now), undefined, bad);
});

test.run();
