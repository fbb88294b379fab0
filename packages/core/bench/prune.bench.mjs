// What a prune costs (docs/history.md): a format 2 repository (local store) of FILES files × VERSIONS versions, one
// commit per version, or commits of PER_COMMIT files each (every file changes each time, 64-200 random bytes, so every version is a blob of its own), pruned to
// the newest version of each file; then a second prune a grace period later, which deletes the packs the first found
// unneeded. Each prune runs in a process of its own under /usr/bin/time (wall, CPU, peak RSS). The store's pack bytes
// after it are compared with a fresh repository holding only the kept versions. Also `versionsOf` one path from a
// cold read (time and storage calls). Run after `npx tsc -b`. Last line: BENCH_RESULT {json}.
// Each prune reports its peak anonymous and file-backed memory apart (LMDB's mapped scratch file is page cache), and
// its scratch store's disk use. RTB_BENCH_PRUNE_FILES sets FILES (default 100,000), RTB_BENCH_PRUNE_VERSIONS sets
// VERSIONS (default 10), RTB_BENCH_PRUNE_PER_COMMIT sets PER_COMMIT (default FILES); e.g. 1,000,000 × 3 in commits of
// 10,000 files shows what a million files cost.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { KEEP_EVERYTHING, LocalDirectoryStorage, prune, readHistory, versionsOf } from "@rtbackup/core";
import { RepositoryV2 } from "@rtbackup/core/v2";
import { countStorageCalls, nodeChild, sampleRss } from "../../../bench/lib.mjs";

const self = fileURLToPath(import.meta.url);
const FILES = Number(process.env.RTB_BENCH_PRUNE_FILES ?? 100_000);
const VERSIONS = Number(process.env.RTB_BENCH_PRUNE_VERSIONS ?? 10);
const PER_COMMIT = Number(process.env.RTB_BENCH_PRUNE_PER_COMMIT ?? FILES);
const HOUR = 3_600_000;
const KEEP_ONE = { ...KEEP_EVERYTHING, keepWithin: 0, keepLast: 1, keepDeleted: Number.POSITIVE_INFINITY };

if (process.argv[2] === "child") {
  const [, , , store, now] = process.argv;
  const rss = await sampleRss();
  const repo = await RepositoryV2.open(new LocalDirectoryStorage({ path: store }));
  // The scratch store's disk use when the new history is about to be written (everything but the lane is in it).
  const scratchDirectory = join(dirname(store), "scratch");
  let scratchMiB = 0;
  const onStep = (step) => {
    if (step === "history") scratchMiB = bytesUnder(scratchDirectory, true) / 2 ** 20;
  };
  const report = await prune(repo, { policy: KEEP_ONE, now: Number(now), graceMs: HOUR, scratchDirectory, onStep });
  console.log(
    JSON.stringify({
      forgotten: report.versions.forgotten,
      deletedPacks: report.deleted.packs,
      deletedBatches: report.deleted.batches,
      scratchMiB: Number(scratchMiB.toFixed(1)),
      ...rss.stop(),
    }),
  );
  process.exit(0);
}

/** A put of `path` holding random bytes; the blob is added to the repository's open pack. */
async function put(repo, path) {
  const data = randomBytes(64 + Math.floor(Math.random() * 137));
  const id = repo.cipher.blobId(data);
  await repo.packs.add(id, data, true);
  return { op: "put", path, type: "file", size: data.length, mtimeMs: 1_700_000_000_000, mode: 0o644, uid: 0, gid: 0, chunks: [id] };
}

/** `versions` versions of FILES files, an hour apart, in commits of PER_COMMIT files through one lane; returns the last commit's time. */
async function generate(store, versions, start) {
  const repo = await RepositoryV2.create(new LocalDirectoryStorage({ path: store }));
  const lane = await repo.openLane("e".repeat(32), "bench");
  let time = start;
  for (let v = 0; v < versions; v++, time += HOUR) {
    for (let from = 0; from < FILES; from += PER_COMMIT) {
      const records = [];
      for (let i = from; i < Math.min(FILES, from + PER_COMMIT); i++) records.push(await put(repo, `/data/d${i % 1000}/f${i}`));
      // Commits of one version a millisecond apart: the version's last is at its hour.
      await lane.commit(records, { time: time - Math.ceil((FILES - from) / PER_COMMIT) + 1 });
    }
  }
  return time - HOUR;
}

/** The bytes of the files under `dir`; with `disk`, the disk blocks they use (an LMDB file is sparse). */
function bytesUnder(dir, disk = false) {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    n += e.isDirectory() ? bytesUnder(path, disk) : disk ? statSync(path).blocks * 512 : statSync(path).size;
  }
  return n;
}

const dir = mkdtempSync(join(tmpdir(), "rtb-prune-bench-"));
try {
  const store = join(dir, "store");
  const started = Date.now();
  const last = await generate(store, VERSIONS, Date.UTC(2026, 0, 1));
  const generatedSeconds = (Date.now() - started) / 1000;
  const packsBefore = bytesUnder(join(store, "packs"));
  console.log(`generated ${FILES} files × ${VERSIONS} versions in ${generatedSeconds.toFixed(1)} s: ${(packsBefore / 2 ** 20).toFixed(1)} MiB of packs`);

  // versions of one path, cold: one listing, then every batch.
  const counted = new LocalDirectoryStorage({ path: store });
  const calls = countStorageCalls(counted);
  const t0 = performance.now();
  const history = await readHistory(await RepositoryV2.open(counted));
  const oneVersions = versionsOf(history.commits, "/data/d7/f7").length;
  const versionsSeconds = (performance.now() - t0) / 1000;
  console.log(`versions of one path (${oneVersions}): ${versionsSeconds.toFixed(2)} s cold, ${calls()} storage calls`);

  const first = await nodeChild(self, ["child", store, String(last + HOUR)]);
  const second = await nodeChild(self, ["child", store, String(last + 3 * HOUR)]);
  const packsAfter = bytesUnder(join(store, "packs"));
  const fresh = join(dir, "fresh");
  await generate(fresh, 1, Date.UTC(2026, 0, 1));
  const packsFresh = bytesUnder(join(fresh, "packs"));
  const sizeRatio = packsAfter / packsFresh;
  const row = (r) => ({
    wallSeconds: Number(r.wallSeconds.toFixed(2)),
    cpuSeconds: Number(r.cpuSeconds?.toFixed(2)),
    maxRssMiB: Math.round(r.maxRssMiB),
    anonMiB: r.anonMiB,
    fileMiB: r.fileMiB,
    scratchMiB: r.scratchMiB,
  });
  for (const [name, r] of [
    ["first prune", first],
    ["second prune", second],
  ])
    console.log(
      `${name}: ${r.wallSeconds.toFixed(2)} s wall, ${r.cpuSeconds?.toFixed(2)} s CPU, peak RSS ${Math.round(r.maxRssMiB)} MiB (anonymous ${r.anonMiB}, file-backed ${r.fileMiB}), scratch ${r.scratchMiB} MiB on disk`,
    );
  console.log(
    `packs after: ${(packsAfter / 2 ** 20).toFixed(2)} MiB; a fresh backup of the kept state: ${(packsFresh / 2 ** 20).toFixed(2)} MiB (${sizeRatio.toFixed(3)}×)`,
  );
  const result = {
    files: FILES,
    versions: VERSIONS,
    filesPerCommit: PER_COMMIT,
    packMiBBefore: Number((packsBefore / 2 ** 20).toFixed(2)),
    firstPrune: row(first),
    secondPrune: row(second),
    packMiBAfter: Number((packsAfter / 2 ** 20).toFixed(2)),
    packMiBFresh: Number((packsFresh / 2 ** 20).toFixed(2)),
    sizeRatio: Number(sizeRatio.toFixed(3)),
    versionsColdSeconds: Number(versionsSeconds.toFixed(2)),
    versionsStorageCalls: calls(),
    target: "store size after prune within 5% of a fresh backup of the kept state (wall time and peak RSS reported)",
    met: sizeRatio <= 1.05,
  };
  console.log(`BENCH_RESULT ${JSON.stringify(result)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
