// Prune on a scripted five-day history: every kept moment restores byte for byte as before, `dryRun` changes no
// object, packs go only a grace period after a prune found them unneeded, an agent that deduplicated against such
// a pack before it saw the base keeps it alive, and the refusals (no delete right, a writer key, damage).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  KEEP_EVERYTHING,
  LocalDirectoryStorage,
  bucketMoments,
  checkRepositoryV2,
  prune,
  readHistory,
  versionsOf,
  type IndexRecord,
  type RetentionPolicy,
  type Verdict,
} from "@rtbackup/core";
import { RepositoryV2, readIndexView } from "@rtbackup/core/v2";
import { encryptedWorkspace, rejectsWith } from "./helpers/encrypted.js";
import { HOUR, NoDeleteStorage, listingOf, scriptedTimeline, stateAt } from "./helpers/timeline.js";

const START = Date.UTC(2026, 5, 10, 13, 30);
const POLICY: RetentionPolicy = { ...KEEP_EVERYTHING, keepWithin: 6 * HOUR, keepDaily: 2, keepDeleted: 24 * HOUR };

async function withStore(fn: (dir: string, storage: LocalDirectoryStorage) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), "rtb-prune-"));
  try {
    await fn(dir, new LocalDirectoryStorage({ path: join(dir, "store") }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The moments the policy keeps whole at `now`: the window (sampled) and each day's end. */
const keptMoments = (now: number) => [now, now - HOUR, now - 5.5 * HOUR, ...bucketMoments(now, "daily", 2)];

async function states(repo: RepositoryV2, moments: number[]) {
  const out: Record<string, Record<string, string>> = {};
  for (const m of moments) out[new Date(m).toISOString()] = await stateAt(repo, m);
  return out;
}

const packBytes = (listing: string[]) => listing.filter((l) => l.startsWith("packs/")).reduce((n, l) => n + Number(l.split(" ")[1]), 0);

test("prune: kept moments restore as before; dry run changes nothing; packs go a grace period later", async () => {
  await withStore(async (_dir, storage) => {
    const { repo, last } = await scriptedTimeline(storage, START, 5);
    const now = last + HOUR;
    const before = await states(repo, keptMoments(now));
    // What the later run keeps whole: its own window and days (the run is two hours later, the same day).
    const later = now + 2 * HOUR;
    const beforeLater = await states(repo, keptMoments(later));
    const listed = await listingOf(storage);

    const told: Verdict[] = [];
    const dry = await prune(repo, { policy: POLICY, now, dryRun: true, graceMs: HOUR, onVerdict: (v) => told.push(v) });
    assert.equal(await listingOf(storage), listed, "a dry run writes and deletes nothing");
    const forgotten = told.filter((v) => !v.keep).length;
    assert.ok(forgotten > 50, `most versions go (${forgotten})`);
    assert.is(dry.versions.forgotten, forgotten);
    assert.is(dry.versions.kept, told.length - forgotten);
    assert.ok(dry.versions.deletionsForgotten > 0, "deleted files past keepDeleted go");

    const first = await prune(repo, { policy: POLICY, now, graceMs: HOUR, locationsPerBatch: 7 });
    assert.ok(first.base);
    assert.equal(first.deleted.packs, 0, "nothing is deleted in the run that finds it unneeded");
    assert.ok(first.deleted.batches > 0);
    assert.ok(first.packs.candidates.size > 0);
    // Spare locations (blobs of candidate packs) come in batches of their own, 7 at a time here.
    const view = await readIndexView(repo);
    const spareOnly = [];
    for (const name of view.lanes.get(view.base!.lane)!.names) {
      const batch = await repo.readBatch(name);
      if (batch.records.length === 0) spareOnly.push(batch.blobs.length);
    }
    assert.ok(spareOnly.length > 2 && spareOnly.every((n) => n > 0 && n <= 7), `spare batches: ${spareOnly.join(", ")}`);
    assert.equal(await states(repo, keptMoments(now)), before, "every kept moment restores as before");
    assert.equal((await checkRepositoryV2(repo)).damage, [], "check finds nothing wrong under the base");

    // History now holds the kept versions only, at their commit times.
    const history = await readHistory(repo);
    assert.equal(history.damage, []);
    const after = versionsOf(history.commits, "/data", { recursive: true }).filter((v) => v.event !== "deleted");
    assert.is(after.length, dry.versions.kept);

    // Too early: the grace period has not passed, nothing goes.
    const early = await prune(repo, { policy: POLICY, now: now + HOUR / 2, graceMs: HOUR });
    assert.equal(early.deleted.packs, 0);
    const second = await prune(repo, { policy: POLICY, now: later, graceMs: HOUR });
    assert.ok(second.deleted.packs > 0, "a grace period later the unneeded packs go");
    assert.equal(await states(repo, keptMoments(later)), beforeLater, "and the moments it keeps restore as before pruning");
    assert.ok(packBytes(await listingOf(storage)) < packBytes(listed) / 2, "the store shrank");
    assert.equal((await checkRepositoryV2(repo, { readData: true })).damage, [], "every blob a kept version needs reads back");
    // The newest state is whole after every run.
    assert.equal(await stateAt(repo, now + 3 * HOUR), before[new Date(now).toISOString()]);
  });
});

test("prune: an agent that named an unneeded blob before it saw the base keeps its pack alive", async () => {
  await withStore(async (_dir, storage) => {
    const { repo, last } = await scriptedTimeline(storage, START, 2);
    const now = last + HOUR;
    const agent = await repo.openLane("d".repeat(32), "agent");
    // The agent's cache knew the blob of an old version of f0 and deduplicated against it: no blob line, no upload.
    const data = Buffer.from("file 0 version 0");
    const old: IndexRecord = {
      op: "put",
      path: "/data/revived",
      type: "file",
      size: data.length,
      mtimeMs: 0,
      mode: 0o644,
      uid: 0,
      gid: 0,
      chunks: [repo.cipher.blobId(data)],
    };
    await prune(repo, { policy: { ...POLICY, keepWithin: 0, keepDaily: 0 }, now, graceMs: HOUR });
    await agent.commit([old], { time: now + 10 * 60_000 });
    const second = await prune(repo, { policy: { ...POLICY, keepWithin: 0, keepDaily: 0 }, now: now + 2 * HOUR, graceMs: HOUR });
    assert.ok(second.deleted.packs > 0);
    const state = await stateAt(repo, now + 3 * HOUR);
    assert.ok(state["/data/revived"], "the file the agent committed still restores");
  });
});

test("prune refuses: credentials that cannot delete (before writing), a writer key, a damaged index", async () => {
  await withStore(async (dir, storage) => {
    const { repo, last } = await scriptedTimeline(storage, START, 1);
    const now = last + HOUR;
    const listed = await listingOf(storage);
    const noDelete = await RepositoryV2.open(new NoDeleteStorage({ path: join(dir, "store") }));
    await rejectsWith(prune(noDelete, { policy: POLICY, now }), "STORAGE_DENIED", /may delete/);
    assert.equal(await listingOf(storage), listed, "nothing was written");

    const enc = await encryptedWorkspace();
    try {
      const writer = await RepositoryV2.open(new LocalDirectoryStorage({ path: enc.store }), {
        keys: { keyFile: { path: enc.writerFile, text: await readFile(enc.writerFile, "utf8") } },
      });
      await rejectsWith(prune(writer, { policy: POLICY, now }), "KEY_MISSING", /master key/);
    } finally {
      await enc.cleanup();
    }

    const laneDir = join(dir, "store", "lanes", "c".repeat(32), "batch");
    const group = (await readdir(laneDir))[0]!;
    await unlink(join(laneDir, group, (await readdir(join(laneDir, group))).sort()[3]!));
    await rejectsWith(prune(repo, { policy: POLICY, now }), "INDEX_DAMAGED", /refuses a damaged index/);
  });
});

test("one prune at a time: a running prune's marker makes another give way; a dead one's does not; --force", async () => {
  await withStore(async (_dir, storage) => {
    const { repo, last } = await scriptedTimeline(storage, START, 1);
    const now = last + HOUR;
    const marker = async (lane: string, pid: number, host = hostname()) => {
      const body = Buffer.from(JSON.stringify({ lane, time: now - 60_000, host, pid }));
      await storage.put(`index/pruning/${lane}`, body, body.length);
    };
    // A prune of this host whose process lives (this test's), started a minute before.
    await marker("1".repeat(32), process.pid);
    const listed = await listingOf(storage);
    await rejectsWith(prune(repo, { policy: POLICY, now }), "LOCKED", /another prune may be running on this repository .*pid \d+/);
    assert.equal(await listingOf(storage), listed, "the prune that gave way left nothing behind");
    // A marker from another host, a minute old, holds the repository too, until --force.
    await storage.delete(`index/pruning/${"1".repeat(32)}`);
    await marker("2".repeat(32), 1, "elsewhere");
    await rejectsWith(prune(repo, { policy: POLICY, now }), "LOCKED", /elsewhere/);
    const forced = await prune(repo, { policy: POLICY, now, force: true });
    assert.ok(forced.base);
    // A marker whose process is gone (a killed prune) does not: the next prune runs and removes it.
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString();
    await marker("3".repeat(32), Number(dead));
    const after = await prune(repo, { policy: POLICY, now: now + 1 });
    assert.ok(after.base);
    assert.equal(
      (await listingOf(storage)).filter((l) => l.startsWith("index/pruning/")),
      [],
    );
  });
});

test.run();
