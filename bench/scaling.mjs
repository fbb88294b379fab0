// The scaling run (--scaling): StateCache with 100k and 1M generated entries, and a rescan of real (empty) files at
// the largest count that can be created within a time budget and a tenth of the free inodes, vs `find` as the floor.
import { spawn } from "node:child_process";
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
export async function scalingBench({ say, child, engineChild, targetFiles = 1_000_000, cacheSizes = [100_000, 1_000_000] }) {
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
  out.rescan = await realFilesBench({ say, engineChild, targetFiles });
  return out;
}

/** Runs a child that is to kill itself (SIGKILL); resolves with its wall time, refuses any other end. */
function killedChild(script, args, env) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "inherit"], env });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (signal !== "SIGKILL") return reject(new Error(`the child meant to be killed ended with ${code ?? signal}`));
      resolve({ seconds: (performance.now() - started) / 1000, ...JSON.parse(out.trim().split("\n").at(-1)) });
    });
  });
}

/**
 * A restore of the whole store into a new directory beside the tree, as `rtb restore -r /` runs it (streamed from a
 * scratch tree on disk), then as every restore ran before (the tree as a Map, the selection as one array).
 */
async function restoreBench({ say, engineChild, storage, dir, env }) {
  const out = {};
  for (const [mode, key] of [
    ["restore", "restore"],
    ["restore-map", "restore_map"],
  ]) {
    const target = join(dir, `out-${mode}`);
    const r = await nodeChild(engineChild, [mode, storage, target], { env });
    await rm(target, { recursive: true, force: true });
    say(`${mode} of ${r.restored} entries: ${r.wallSeconds.toFixed(1)} s, peak anonymous ${r.anonMiB} MiB, file-backed ${r.fileMiB} MiB`);
    Object.assign(out, { [`${key}_s`]: r.wallSeconds, [`${key}_anon_MiB`]: r.anonMiB, [`${key}_file_MiB`]: r.fileMiB, restored: r.restored });
  }
  return out;
}

/** The daemon of `rtb run` on the tree (fanotify, procfs check): its catch-up scan, then anonymous memory while idle. */
async function daemonIdle({ say, engineChild, storage, tree, state, env }) {
  const idleSeconds = 30;
  const r = await nodeChild(engineChild, ["daemon", storage, tree, state, String(idleSeconds)], { env });
  if (r.changed !== 0) throw new Error(`the daemon's catch-up scan queued ${r.changed} paths of an unchanged tree`);
  say(
    `daemon on ${r.seen} entries: catch-up ${(r.catchUpMs / 1000).toFixed(1)} s; anonymous ${r.afterCatchUpAnonMiB} MiB after it, ${r.idleAnonMiB} MiB after ${idleSeconds} s idle (peak ${r.anonMiB} MiB)`,
  );
  return {
    daemon_catch_up_s: r.catchUpMs / 1000,
    daemon_after_catch_up_anon_MiB: r.afterCatchUpAnonMiB,
    daemon_idle_anon_MiB: r.idleAnonMiB,
    daemon_idle_s: idleSeconds,
    daemon_peak_anon_MiB: r.anonMiB,
    daemon_peak_file_MiB: r.fileMiB,
  };
}

/** Real (empty) files through the engine: an initial backup, then an unchanged rescan by a second process. */
async function realFilesBench({ say, engineChild, targetFiles }) {
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
    // The engine itself, as `rtb backup` runs it (core-child.mjs): the initial backup of the tree to a local store,
    // then an unchanged rescan by a second process on the same state cache (start-up, scan, stop).
    const store = join(dir, "store");
    mkdirSync(store);
    const storage = JSON.stringify({ kind: "local", path: store });
    const env = { ...process.env, RTB_BENCH_SAMPLE_RSS: "1" };
    // The initial backup is killed (SIGKILL) once half the tree is committed, then run again: the second run must
    // read only what the first did not commit.
    const killed = await killedChild(engineChild, ["backup", storage, tree, join(dir, "state")], { ...env, RTB_BENCH_KILL_AT: String(Math.floor(made.n / 2)) });
    const committedAtKill = (await nodeChild(engineChild, ["count", storage])).files;
    const initial = await nodeChild(engineChild, ["backup", storage, tree, join(dir, "state")], { env });
    say(
      `initial backup of ${initial.seen} entries: killed after ${killed.seconds.toFixed(1)} s with ${committedAtKill} files committed (peak anonymous ${killed.anonMiB} MiB); the restart took ${initial.wallSeconds.toFixed(1)} s and read ${initial.files} files, peak anonymous ${initial.anonMiB} MiB, file-backed ${initial.fileMiB} MiB`,
    );
    const findBefore = await findFloor(tree);
    const r = await nodeChild(engineChild, ["backup", storage, tree, join(dir, "state")], { env });
    const findAfter = await findFloor(tree);
    if (r.changed !== 0) throw new Error(`unchanged rescan queued ${r.changed} paths`);
    // find's time on either side of the rescan, the faster: the machine's state moves both.
    const floor = Math.min(find.seconds, findBefore.seconds, findAfter.seconds);
    const perM = 1e6 / r.seen;
    say(`rescan of ${r.seen} entries: ${(r.scanMs / 1000).toFixed(2)} s (find ${floor.toFixed(2)} s), peak anonymous ${r.anonMiB} MiB`);
    const daemon = await daemonIdle({ say, engineChild, storage, tree, state: join(dir, "state"), env });
    const restores = await restoreBench({ say, engineChild, storage, dir, env });
    return {
      ...daemon,
      ...restores,
      files: made.n,
      entries: r.seen,
      killed_after_s: killed.seconds,
      committed_at_kill: committedAtKill,
      reread_after_kill: initial.files,
      initial_s: killed.seconds + initial.wallSeconds,
      initial_anon_MiB: Math.max(killed.anonMiB, initial.anonMiB),
      initial_file_MiB: Math.max(killed.fileMiB, initial.fileMiB),
      start_s: r.startMs / 1000,
      rescan_s: r.scanMs / 1000,
      process_s: r.wallSeconds,
      find_s: floor,
      rescan_vs_find_ratio: r.scanMs / 1000 / floor,
      rescan_s_per_million: (r.scanMs / 1000) * perM,
      rescan_anon_MiB: r.anonMiB,
      rescan_file_MiB: r.fileMiB,
      find_peak_rss_MiB: find.maxRssMiB,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
