// SIGKILL during prune: a prune process killed as its k-th put or delete starts, for k spread over a whole run
// (repack, the history lane, the base, the deletions) of a first prune and of a later one that deletes packs. After
// each kill every kept moment restores as before, check finds no damage, and a prune run again completes.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalDirectoryStorage, bucketMoments, checkRepositoryV2 } from "@rtbackup/core";
import { RepositoryV2 } from "@rtbackup/core/v2";
import { HOUR, scriptedTimeline, stateAt } from "./helpers/timeline.js";

const CHILD = fileURLToPath(new URL("./helpers/prune-child.ts", import.meta.url));
const START = Date.UTC(2026, 5, 10, 13, 30);

/** Runs the prune child; resolves with how it ended and, when it completed, how many puts and deletes it made. */
function pruneChild(store: string, now: number, graceMs: number, killAt: number): Promise<{ signal: string | null; code: number | null; calls?: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, store, String(now), String(graceMs), String(killAt)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code !== null && code !== 0) reject(new Error(`prune child failed (${code}): ${err}`));
      else resolve({ code, signal, ...(out.trim() ? { calls: (JSON.parse(out.trim()) as { calls: number }).calls } : {}) });
    });
  });
}

const moments = (now: number) => [now, now - HOUR, now - 5.5 * HOUR, ...bucketMoments(now, "daily", 2)];

async function statesOf(store: string, at: number[]) {
  const repo = await RepositoryV2.open(new LocalDirectoryStorage({ path: store }));
  const out: Record<string, unknown>[] = [];
  for (const m of at) out.push(await stateAt(repo, m));
  return { out, repo };
}

async function keysUnder(store: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of new LocalDirectoryStorage({ path: store }).list(prefix)) out.push(o.key);
  return out;
}

/** `count` kill points spread over 1..total, the first and the last included. */
const spread = (total: number, count: number) => [...new Set(Array.from({ length: count }, (_, i) => 1 + Math.round((i * (total - 1)) / (count - 1))))];

test("a prune killed at any put or delete leaves every kept moment restorable, and runs again to the end", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-prune-kill-"));
  try {
    const original = join(dir, "original");
    const { last } = await scriptedTimeline(new LocalDirectoryStorage({ path: original }), START, 3);
    const now = last + HOUR;
    const later = now + 2 * HOUR;
    const expected = (await statesOf(original, moments(now))).out;
    const expectedLater = (await statesOf(original, moments(later))).out;

    // Whole runs, to count their writes: a first prune, and a later one that deletes what the first found unneeded.
    const pruned = join(dir, "pruned");
    await cp(original, pruned, { recursive: true });
    const first = await pruneChild(pruned, now, HOUR, 0);
    const afterFirst = join(dir, "after-first");
    await cp(pruned, afterFirst, { recursive: true });
    const second = await pruneChild(pruned, later, HOUR, 0);
    assert.ok(first.calls! > 20 && second.calls! > 20, `writes and deletes: ${first.calls}, ${second.calls}`);

    const runs = [
      { from: original, now, points: spread(first.calls!, 9), want: expected, at: moments(now) },
      { from: afterFirst, now: later, points: spread(second.calls!, 7), want: expectedLater, at: moments(later) },
    ];
    for (const run of runs) {
      for (const k of run.points) {
        const store = join(dir, `kill-${run.now}-${k}`);
        await cp(run.from, store, { recursive: true });
        const killed = await pruneChild(store, run.now, HOUR, k);
        assert.is(killed.signal, "SIGKILL", `killed at write ${k}`);
        const seen = await statesOf(store, run.at);
        assert.equal(seen.out, run.want, `every kept moment restores after a kill at write ${k}`);
        assert.equal((await checkRepositoryV2(seen.repo)).damage, [], `no damage after a kill at write ${k}`);
        const again = await pruneChild(store, run.now, HOUR, 0);
        assert.is(again.code, 0);
        const done = await statesOf(store, run.at);
        assert.equal(done.out, run.want, `and after the prune ran again (killed at ${k})`);
        assert.equal((await checkRepositoryV2(done.repo, { readData: true })).damage, []);
        const { described, batches } = await done.repo.laneListing();
        assert.equal(
          [...batches.keys()].filter((l) => !described.has(l)),
          [],
          `what the killed prune left is gone (killed at ${k})`,
        );
        assert.equal(await keysUnder(store, "index/pruning/"), []);
        await rm(store, { recursive: true, force: true });
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
