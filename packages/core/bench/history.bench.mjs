// What `rtb versions` of one path costs with the local history cache (docs/history.md "The local cache"): a format 2
// repository (local store) of COMMITS commits × 100 new paths (1,000,000 entries at the default 10,000 commits),
// over two lanes; one path is put again every 100th commit and its directory moved every 2,500th. Each run is a
// process of its own under /usr/bin/time: without the cache, with an empty cache (cold), with a filled one (warm),
// and warm after 10 more commits. Each prints its own time to answer and its storage calls.
// Run after `npx tsc -b`. Last line: BENCH_RESULT {json}. RTB_BENCH_HISTORY_COMMITS sets COMMITS.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalDirectoryStorage, openHistory } from "@rtbackup/core";
import { RepositoryV2 } from "@rtbackup/core/v2";
import { countStorageCalls, nodeChild } from "../../../bench/lib.mjs";

const self = fileURLToPath(import.meta.url);
const COMMITS = Number(process.env.RTB_BENCH_HISTORY_COMMITS ?? 10_000);
const PER_COMMIT = 100;
const TARGET = "/data/t/target.txt";
const MIN = 60_000;

if (process.argv[2] === "child") {
  const [, , , store, cache] = process.argv;
  const storage = new LocalDirectoryStorage({ path: store });
  const calls = countStorageCalls(storage);
  const t0 = performance.now();
  const history = await openHistory(await RepositoryV2.open(storage), cache === "-" ? {} : { cacheDirectory: cache });
  const versions = await history.versions(TARGET);
  const seconds = (performance.now() - t0) / 1000;
  const read = history.source.kind === "cache" ? history.source.batchesRead : null;
  await history.close();
  console.log(JSON.stringify({ versions: versions.length, seconds, calls: calls(), batchesRead: read }));
  process.exit(0);
}

async function generate(repo, lanes, from, count) {
  const data = Buffer.from("the same small content");
  const id = repo.cipher.blobId(data);
  await repo.packs.add(id, data, true);
  const file = (path) => ({ op: "put", path, type: "file", size: data.length, mtimeMs: 1_700_000_000_000, mode: 0o644, uid: 0, gid: 0, chunks: [id] });
  for (let c = from; c < from + count; c++) {
    const records = [];
    for (let i = 0; i < PER_COMMIT; i++) records.push(file(`/data/d${c % 1000}/c${c}-f${i}`));
    if (c % 100 === 0) records.push(file(TARGET));
    if (c % 2500 === 1) records.push({ op: "move", from: "/data/t", to: "/data/u" }, { op: "move", from: "/data/u", to: "/data/t" });
    await lanes[c % 2].commit(records, { time: Date.UTC(2026, 0, 1) + c * MIN });
  }
}

const dir = mkdtempSync(join(tmpdir(), "rtb-history-bench-"));
try {
  const store = join(dir, "store");
  const cache = join(dir, "cache");
  const repo = await RepositoryV2.create(new LocalDirectoryStorage({ path: store }));
  const lanes = [await repo.openLane("a".repeat(32), "bench-a"), await repo.openLane("b".repeat(32), "bench-b")];
  const started = Date.now();
  await generate(repo, lanes, 0, COMMITS);
  console.log(`generated ${COMMITS} commits × ${PER_COMMIT} entries in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const runs = {};
  for (const [name, where] of [
    ["no cache", "-"],
    ["cold cache", cache],
    ["warm cache", cache],
  ])
    runs[name] = await nodeChild(self, ["child", store, where]);
  await generate(repo, lanes, COMMITS, 10);
  runs["warm, 10 new commits"] = await nodeChild(self, ["child", store, cache]);
  const rows = {};
  for (const [name, r] of Object.entries(runs)) {
    console.log(
      `${name}: answered in ${r.seconds.toFixed(2)} s (${r.calls} storage calls, ${r.batchesRead ?? "all"} batches read); process ${r.wallSeconds.toFixed(2)} s wall, peak RSS ${Math.round(r.maxRssMiB)} MiB; ${r.versions} versions`,
    );
    rows[name] = {
      seconds: Number(r.seconds.toFixed(3)),
      storageCalls: r.calls,
      batchesRead: r.batchesRead,
      processWallSeconds: Number(r.wallSeconds.toFixed(2)),
      maxRssMiB: Math.round(r.maxRssMiB),
    };
  }
  const warm = rows["warm cache"].seconds;
  const result = {
    entries: COMMITS * PER_COMMIT,
    commits: COMMITS,
    runs: rows,
    target: "rtb versions of one path, 1M entries and 10k commits: <= 1 s from a warm local cache; storage calls cold",
    met: warm <= 1 && COMMITS >= 10_000,
  };
  console.log(`BENCH_RESULT ${JSON.stringify(result)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
