// The scaling run (--scaling): StateCache with 100k and 1M generated entries, and a rescan of real (empty) files at
// the largest count that can be created within a time budget and a tenth of the free inodes, vs `find` as the floor.
import { closeSync, mkdirSync, openSync, statfsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nodeChild } from "./lib.mjs";
import { findFloor } from "./peers.mjs";

const CREATE_BUDGET_MS = 120_000;

/** Creates up to `target` empty files under `root` (1,000 per directory) until `budgetMs` passes; returns the count. */
function createFiles(root, target, budgetMs) {
  const t0 = performance.now();
  let n = 0;
  for (; n < target; n++) {
    if (n % 1000 === 0) {
      if (performance.now() - t0 > budgetMs) break;
      mkdirSync(join(root, `a${Math.floor(n / 100_000)}`, `b${Math.floor(n / 1000) % 100}`), { recursive: true });
    }
    closeSync(openSync(join(root, `a${Math.floor(n / 100_000)}`, `b${Math.floor(n / 1000) % 100}`, `f${n}`), "w"));
  }
  return { n, ms: performance.now() - t0 };
}

/** Runs the scaling measurements; returns their figures. */
export async function scalingBench({ say, child, targetFiles = 1_000_000, cacheSizes = [100_000, 1_000_000] }) {
  const out = { cache: {}, rescan: undefined };
  say("\n=== scaling: StateCache with generated entries");
  for (const n of cacheSizes) {
    const dir = await mkdtemp(join(tmpdir(), "rtb-bench-cache-"));
    try {
      const r = await nodeChild(child, ["cache", dir, String(n)]);
      const perM = 1e6 / n;
      out.cache[n] = {
        ...r,
        rss_growth_MiB_per_million: (r.maxRssMiB - r.baseRssMiB) * perM,
        insert_s_per_million: (r.insertMs / 1000) * perM,
        lookup_s_per_million: (r.lookupMs / 1000) * perM,
        iterate_s_per_million: (r.iterateMs / 1000) * perM,
      };
      say(
        `StateCache ${n}: insert ${(r.insertMs / 1000).toFixed(2)} s, lookup all ${(r.lookupMs / 1000).toFixed(2)} s, iterate ${(r.iterateMs / 1000).toFixed(2)} s, peak RSS ${r.maxRssMiB.toFixed(0)} MiB, db ${r.dbMiB.toFixed(0)} MiB`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const dir = await mkdtemp(join(tmpdir(), "rtb-bench-rescan-"));
  try {
    const fs = statfsSync(dir);
    const target = Math.min(targetFiles, Math.floor(fs.ffree / 10));
    const tree = join(dir, "tree");
    say(`=== scaling: rescan of real files (up to ${target}, ${CREATE_BUDGET_MS / 1000} s to create them)`);
    const made = createFiles(tree, target, CREATE_BUDGET_MS);
    say(`created ${made.n} empty files in ${(made.ms / 1000).toFixed(1)} s`);
    await findFloor(tree);
    const find = await findFloor(tree);
    const r = await nodeChild(child, ["rescan", join(dir, "work"), tree]);
    const perM = 1e6 / r.n;
    out.rescan = {
      files: made.n,
      entries: r.n,
      fill_s: r.fillMs / 1000,
      rescan_s: r.rescanMs / 1000,
      find_s: find.seconds,
      rescan_vs_find_ratio: r.rescanMs / 1000 / find.seconds,
      rescan_s_per_million: (r.rescanMs / 1000) * perM,
      peak_rss_MiB: r.maxRssMiB,
      base_rss_MiB: r.baseRssMiB,
      rss_growth_MiB_per_million: (r.maxRssMiB - r.baseRssMiB) * perM,
      find_peak_rss_MiB: find.maxRssMiB,
    };
    say(`rescan of ${r.n} entries: ${(r.rescanMs / 1000).toFixed(2)} s (find ${find.seconds.toFixed(2)} s), peak RSS ${r.maxRssMiB.toFixed(0)} MiB`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}
