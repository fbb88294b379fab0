// The local history cache answers `versions` and `log` exactly as a read of the whole store does: on a random history
// of puts, moves and deletes of files and directories over two lanes (names that are not UTF-8, a path longer than
// a key), after more commits (only those are read), after a prune (the cache is filled again), with a lost batch
// (named as damage, the rest shown), and with its file damaged (the store is read instead, and the problem named).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { KEEP_EVERYTHING, LocalDirectoryStorage, openHistory, prune, type HistoryReader } from "@rtbackup/core";
import { RepositoryV2 } from "@rtbackup/core/v2";
import { randomHistory } from "./helpers/randomHistory.js";
import { withTempDir } from "./helpers/tempDir.js";

const MIN = 60_000;

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("rtb-history-cache-", fn);

/** What both readers answer for every path: versions (one path, and recursive) and the log (whole, by path, windowed). */
async function answers(reader: HistoryReader, paths: Iterable<string>, start: number): Promise<string> {
  const out: unknown[] = [await reader.summaries(), await reader.summaries({ since: start + 10 * MIN, until: start + 30 * MIN })];
  for (const p of paths) {
    out.push(p, await reader.versions(p), await reader.versions(p, { recursive: true }), await reader.summaries({ path: p }));
  }
  return JSON.stringify(out);
}

async function compare(repo: RepositoryV2, cacheDir: string, paths: Set<string>, start: number) {
  const store = await openHistory(repo);
  const cached = await openHistory(repo, { cacheDirectory: cacheDir, onCacheProblem: (m) => assert.unreachable(m) });
  try {
    assert.is(cached.source.kind, "cache");
    assert.equal(
      cached.damage.map((d) => d.message),
      store.damage.map((d) => d.message),
    );
    assert.equal([...cached.hosts].sort(), [...store.hosts].sort());
    const a = await answers(store, paths, start);
    assert.ok(a.length > 10_000, "the history gives versions to compare");
    assert.is(await answers(cached, paths, start), a);
    return cached.source.kind === "cache" ? cached.source.batchesRead : -1;
  } finally {
    await cached.close();
  }
}

/** A repository in `dir` with two lanes, the time its history starts, and where its cache goes. */
async function twoLanes(dir: string) {
  const storage = new LocalDirectoryStorage({ path: join(dir, "store") });
  const repo = await RepositoryV2.create(storage);
  const lanes = [await repo.openLane("a".repeat(32), "alpha"), await repo.openLane("b".repeat(32), "beta")];
  return { storage, repo, lanes, start: Date.UTC(2026, 10, 1), cacheDir: join(dir, "cache") };
}

test("the cache answers as the store does, reading only new batches, and is filled again after a prune", () =>
  withDir(async (dir) => {
    const { repo, lanes, start, cacheDir } = await twoLanes(dir);
    const names = await randomHistory(repo, lanes, 60, start, 7);
    assert.is(await compare(repo, cacheDir, names, start), 60, "a cold cache reads every batch");
    const mode = (await stat(join(cacheDir, repo.config.id))).mode & 0o777;
    assert.is(mode, 0o700, "the cache directory is the user's own");
    assert.is(await compare(repo, cacheDir, names, start), 0, "a warm cache reads no batch");
    for (const n of await randomHistory(repo, lanes, 10, start + 60 * MIN, 11)) names.add(n);
    // Moves that chain in one commit: what is at /data/y after it was under /data/b before it.
    await lanes[0]!.commit(
      [
        { op: "move", from: "/data/b", to: "/data/x" },
        { op: "move", from: "/data/x", to: "/data/y" },
      ],
      { time: start + 75 * MIN },
    );
    for (const n of ["/data/x", "/data/y", "/data/y/f0", "/data/y/f1", "/data/y/f2"]) names.add(n);
    assert.is(await compare(repo, cacheDir, names, start), 11, "only the new batches are read");

    await prune(repo, { policy: { ...KEEP_EVERYTHING, keepWithin: 0, keepLast: 2 }, now: start + 100 * MIN, graceMs: 0 });
    const view = await openHistory(repo, { cacheDirectory: cacheDir });
    const read = view.source.kind === "cache" ? view.source.batchesRead : -1;
    await view.close();
    assert.ok(read > 0, "after a prune the cache is filled again from the base's lane");
    assert.is(await compare(repo, cacheDir, names, start), 0);
  }));

test("a lost batch is damage in both; a damaged cache file gives way to the store, named", () =>
  withDir(async (dir) => {
    const { storage, repo, lanes, start, cacheDir } = await twoLanes(dir);
    const names = await randomHistory(repo, lanes, 30, start, 3);
    await compare(repo, cacheDir, names, start);
    await storage.delete((await repo.laneBatches("a".repeat(32)))[5]!.key);
    const store = await openHistory(repo);
    assert.ok(store.damage.length > 0, "the store read names the gap");
    await compare(repo, cacheDir, names, start);

    // A file that is not LMDB (which would crash the process), and a run that died using the cache: both thrown away.
    for (const damage of [
      () => writeFile(join(cacheDir, repo.config.id, "history.mdb"), "not an lmdb file".repeat(1024)),
      () => writeFile(join(cacheDir, repo.config.id, "using-999999999"), ""),
    ]) {
      await damage();
      const notices: string[] = [];
      const reader = await openHistory(repo, { cacheDirectory: cacheDir, onCacheProblem: (m) => notices.push(m) });
      try {
        assert.is(reader.source.kind === "cache" && reader.source.batchesRead, 29, "filled again: every readable batch read");
        assert.match(notices.join("\n"), /thrown away and is filled again: .*(no LMDB meta pages|ended without closing it)/);
        assert.is(await answers(reader, names, start), await answers(store, names, start));
      } finally {
        await reader.close();
      }
    }
  }));

test.run();
