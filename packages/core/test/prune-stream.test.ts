// Prune plans path after path from an on-disk scratch store, not from the whole history in memory: on random
// histories (moves and deletes of files and directories, moves of a directory into itself, two lanes, a name that
// is not UTF-8, a path longer than a key) it gives exactly the verdicts of versionsOf and planRetention over the
// history read whole, restores every kept moment as before, and leaves no scratch store behind (one a killed prune
// left is removed by the next).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import {
  KEEP_EVERYTHING,
  LocalDirectoryStorage,
  loadTree,
  planRetention,
  prune,
  readHistory,
  versionsOf,
  type RetentionPolicy,
  type Verdict,
} from "@rtbackup/core";
import { RepositoryV2, readIndexView, type LaneWriter } from "@rtbackup/core/v2";
import { encryptedWorkspace } from "./helpers/encrypted.js";
import { randomHistory } from "./helpers/randomHistory.js";
import { putFile, stateAt } from "./helpers/timeline.js";
import { withTempDir } from "./helpers/tempDir.js";

const MIN = 60_000;
const COMMITS = 70;

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir("rtb-prune-stream-", fn);

const POLICIES: Record<string, Partial<RetentionPolicy>> = {
  "keep last 1": { keepWithin: 0, keepLast: 1 },
  "window and deleted": { keepWithin: 20 * MIN, keepDeleted: 15 * MIN },
  "last 2, hourly, deleted": { keepWithin: 5 * MIN, keepLast: 2, keepHourly: 1, keepDeleted: 40 * MIN },
};

/** A verdict as both planners must give it. */
const line = (v: Verdict) =>
  JSON.stringify([v.version.path, v.version.event, v.version.time, v.version.writer, v.version.seq, v.version.from, v.until, v.keep, v.version.entry]);

/** Every entry (with its content ids) at each moment. */
async function states(repo: RepositoryV2, moments: readonly number[]): Promise<string> {
  const out: unknown[] = [];
  for (const at of moments)
    out.push(
      at,
      [...(await loadTree(repo, { at })).entries.values()].sort((a, b) => (a.path < b.path ? -1 : 1)),
    );
  return JSON.stringify(out);
}

/**
 * Before the random history, a pack of ten files (one commit) of which seven are written again: a prune keeping the
 * newest rewrites the three left from one pack, by one ranged read of it.
 */
async function sharedPack(repo: RepositoryV2, lane: LaneWriter, start: number): Promise<void> {
  const files = (n: number, round: number) => Promise.all(Array.from({ length: n }, (_, i) => putFile(repo, `/old/f${i}`, `old ${i} round ${round}`)));
  await lane.commit(await files(10, 0), { time: start - 10 * MIN });
  await lane.commit(await files(7, 1), { time: start - 5 * MIN });
}

async function history(dir: string, seed: number) {
  const repo = await RepositoryV2.create(new LocalDirectoryStorage({ path: join(dir, "store") }));
  const lanes = [await repo.openLane("a".repeat(32), "alpha"), await repo.openLane("b".repeat(32), "beta")];
  const start = Date.UTC(2026, 10, 1);
  await sharedPack(repo, lanes[0]!, start);
  await randomHistory(repo, lanes, COMMITS, start, seed);
  return { repo, start, now: start + (COMMITS + 5) * MIN };
}

/** Whether two batches with records in the prune's lane have the same time (one kept commit split in two). */
async function splitCommits(repo: RepositoryV2): Promise<boolean> {
  const view = await readIndexView(repo);
  const times = new Set<number>();
  for (const name of view.lanes.get(view.base!.lane)!.names) {
    if ((await repo.readBatch(name)).records.length === 0) continue;
    if (times.has(name.time)) return true;
    times.add(name.time);
  }
  return false;
}

for (const [name, rules] of Object.entries(POLICIES)) {
  test(`prune (${name}) plans what versionsOf and planRetention plan, and restores every kept moment as before`, () =>
    withDir(async (dir) => {
      let [repacked, split] = [0, false];
      for (const seed of [7, 11, 23]) {
        const { repo, start, now } = await history(join(dir, String(seed)), seed);
        const policy = { ...KEEP_EVERYTHING, ...rules };
        const whole = planRetention(versionsOf((await readHistory(repo)).commits, "/", { recursive: true }), policy, now);
        assert.ok(
          whole.verdicts.some((v) => v.version.event === "moved"),
          "the history has moved-in versions",
        );
        assert.ok(whole.verdicts.some((v) => v.keep) && whole.verdicts.some((v) => !v.keep), "the policy keeps some and forgets some");
        const told: Verdict[] = [];
        const scratchDirectory = join(dir, "cache");
        const dry = await prune(repo, { policy, now, dryRun: true, scratchDirectory, onVerdict: (v) => told.push(v) });
        assert.equal(told.map(line).sort(), whole.verdicts.map(line).sort(), `seed ${seed}: the same verdicts`);
        assert.is(dry.versions.kept, whole.verdicts.filter((v) => v.keep).length);
        assert.is(dry.versions.deletionsKept, whole.deletions.length);
        assert.is(dry.versions.deletionsForgotten, whole.forgottenDeletions.length);

        // Moments whose every visible version the policy keeps (a deletion stays with the versions before it).
        const visibleAt = (v: Verdict, t: number) => v.version.time <= t && (v.until === undefined || v.until > t);
        const moments = [now, ...Array.from({ length: COMMITS }, (_, i) => start + i * MIN + MIN / 2)];
        const kept = moments.filter((t) => whole.verdicts.every((v) => v.keep || !visibleAt(v, t)));
        assert.ok(kept.includes(now) && kept.length >= (policy.keepWithin >= 5 * MIN ? 4 : 1), `seed ${seed}: moments kept whole (${kept.length})`);
        const before = await states(repo, kept);
        const bytes = await stateAt(repo, now);
        // One seed splits every kept commit of more than a few lines over several batches.
        const report = await prune(repo, { policy, now, graceMs: 0, scratchDirectory, ...(seed === 11 ? { linesPerBatch: 3 } : {}) });
        if (seed === 11) split = await splitCommits(repo);
        repacked += report.packs.repack.size;
        assert.is(await states(repo, kept), before, `seed ${seed}: every kept moment restores as before`);
        assert.equal(await stateAt(repo, now), bytes, `seed ${seed}: every file now reads the same bytes`);
        const again: Verdict[] = [];
        await prune(repo, { policy, now, dryRun: true, scratchDirectory, onVerdict: (v) => again.push(v) });
        assert.ok(
          again.every((v) => v.keep),
          `seed ${seed}: a second prune at the same moment forgets nothing more (${again.filter((v) => !v.keep).map(line)[0]})`,
        );
        assert.equal(await readdir(scratchDirectory), [], "no scratch store is left behind");
      }
      assert.ok(repacked > 0, "packs were rewritten");
      assert.ok(split, "kept commits were split");
    }));
}

test("an encrypted repository prunes through its scratch store: packs rewritten read back byte for byte", async () => {
  const enc = await encryptedWorkspace();
  try {
    const lanes = [await enc.repo.openLane("a".repeat(32), "alpha"), await enc.repo.openLane("b".repeat(32), "beta")];
    const start = Date.UTC(2026, 10, 1);
    await sharedPack(enc.repo, lanes[0]!, start);
    await randomHistory(enc.repo, lanes, COMMITS, start, 3);
    const now = start + (COMMITS + 5) * MIN;
    const before = await stateAt(enc.repo, now);
    const report = await prune(enc.repo, {
      policy: { ...KEEP_EVERYTHING, keepWithin: 0, keepLast: 1 },
      now,
      graceMs: 0,
      scratchDirectory: join(enc.dir, "cache"),
    });
    assert.ok(report.packs.repack.size > 0 && report.packs.repackBlobs > 0, "packs were rewritten");
    const reopened = await RepositoryV2.open(new LocalDirectoryStorage({ path: enc.store }), { keys: enc.keys });
    assert.equal(await stateAt(reopened, now), before);
  } finally {
    await enc.cleanup();
  }
});

test("a scratch store a killed prune left is removed by the next; one of a running prune is not", () =>
  withDir(async (dir) => {
    const { repo, now } = await history(dir, 5);
    const scratchDirectory = join(dir, "cache");
    // No process has pid 2^22 + 1 (the kernel's pid_max is at most 2^22).
    const dead = join(scratchDirectory, `prune-${2 ** 22 + 1}-0123abcd`);
    const running = join(scratchDirectory, `prune-${process.pid}-89abcdef`);
    for (const d of [dead, running]) await mkdir(d, { recursive: true });
    await prune(repo, { policy: { ...KEEP_EVERYTHING, keepWithin: 0, keepLast: 1 }, now, dryRun: true, scratchDirectory });
    assert.equal(await readdir(scratchDirectory), [`prune-${process.pid}-89abcdef`]);
  }));

test.run();
