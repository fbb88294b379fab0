// Real-time path: latency from a file's close to the commit of its index record, for bursts of changed files.
// An in-process engine (local store, live snapshots, no stability plugin) with SnapshotSharingWindow and
// BatchUploadConsolidationDelay at 100 ms. A writer process (latency-writer.mjs) writes each file and reports its
// close; the scripted source submits an update event for each report, as a change source does on a close-write
// notification. Close and commit times are both wall-clock ms (`performance.timeOrigin + performance.now()`);
// commit times come from `engine.hooks.commit`. Two bursts: N new files, then the same N rewritten.
// Then one file at a time on the idle engine (the "single file changed on an idle daemon").
// With `procfs`, ProcfsStabilityPlugin (plugin-open-files) checks writers as it would in the daemon.
// Usage: node latency-child.mjs <dir> [files=1000] [procfs]; prints one JSON line.
import { fork } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { Engine, silentSink } from "@rtbackup/core";
import { ProcfsStabilityPlugin } from "@rtbackup/plugin-open-files";
import { percentile } from "./lib.mjs";

const [dir, countArg, stabilityArg] = process.argv.slice(2);
const COUNT = Number(countArg ?? 1000);
const WINDOW_MS = 100;
const DEADLINE_MS = 120_000;
const src = join(dir, "src");
await mkdir(src, { recursive: true });

/** The scripted source: submits one update per close reported by the writer process. */
class ScriptedBurstSource {
  name = "ScriptedBurstSource";
  engine;
  apply(engine) {
    this.engine = engine;
  }
  /** Has a writer process write `paths` back to back; resolves with the close time of each path once it exits. */
  burst(paths, seed) {
    const closed = new Map();
    const writer = fork(new URL("./latency-writer.mjs", import.meta.url), [String(seed), ...paths], { stdio: "inherit" });
    writer.on("message", ({ path, closedAt }) => {
      closed.set(path, closedAt);
      this.engine.submit({ type: "update", path });
    });
    return new Promise((resolve, reject) => {
      writer.once("error", reject);
      // "close", not "exit": a child's last messages may still be on their way when "exit" is emitted.
      writer.once("close", (code) =>
        code === 0 && closed.size === paths.length ? resolve(closed) : reject(new Error(`writer exited ${code} after ${closed.size} files`)),
      );
    });
  }
}

const source = new ScriptedBurstSource();
const engine = new Engine({
  parameters: {
    storage: "local",
    localStoragePath: join(dir, "store"),
    remoteFileStateCachePath: join(dir, "state"),
    stagingDirectory: join(dir, "staging"),
    backupRoots: [src],
    pathFilters: [],
    snapshotSharingWindow: WINDOW_MS,
    batchUploadConsolidationDelay: WINDOW_MS,
  },
  plugins: stabilityArg === "procfs" ? [source, new ProcfsStabilityPlugin()] : [source],
  log: { sink: silentSink },
});
const committedAt = new Map();
let onCommit = () => undefined;
engine.hooks.commit.tap("LatencyBench", ({ records }) => {
  const now = performance.timeOrigin + performance.now();
  for (const r of records) if (r.op === "put" && !committedAt.has(r.path)) committedAt.set(r.path, now);
  onCommit();
});

async function measure(paths, seed) {
  committedAt.clear();
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${committedAt.size} of ${paths.length} committed after ${DEADLINE_MS} ms`)), DEADLINE_MS);
    onCommit = () => {
      if (paths.every((p) => committedAt.has(p))) {
        clearTimeout(timer);
        resolve();
      }
    };
  });
  const closed = await source.burst(paths, seed);
  const closes = [...closed.values()];
  const t0 = Math.min(...closes);
  const burstMs = Math.max(...closes) - t0;
  await done;
  const latencies = paths.map((p) => committedAt.get(p) - closed.get(p));
  return {
    burstMs,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: Math.max(...latencies),
    lastCommitAfterBurstMs: Math.max(...paths.map((p) => committedAt.get(p))) - t0 - burstMs,
  };
}

const paths = [];
for (let i = 0; i < COUNT; i++) {
  const sub = join(src, `d${i % 10}`);
  if (i < 10) await mkdir(sub, { recursive: true });
  paths.push(join(sub, `f${i}.txt`));
}
await engine.start();
await engine.initialBackup();
const created = await measure(paths, 1);
const changed = await measure(paths, 2);

/**
 * One file changed on an idle daemon, IDLE_ROUNDS times: each round waits until nothing is queued and the windows
 * have long closed, then rewrites one file; the latencies of the rounds.
 */
async function measureIdle() {
  const latencies = [];
  for (let i = 0; i < IDLE_ROUNDS; i++) {
    await new Promise((resolve) => setTimeout(resolve, 3 * WINDOW_MS));
    const r = await measure([paths[i]], 3 + i);
    latencies.push(r.p50Ms);
  }
  return { rounds: IDLE_ROUNDS, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: Math.max(...latencies) };
}
const IDLE_ROUNDS = 30;
const idle = await measureIdle();
await engine.stop();
process.stdout.write(
  `${JSON.stringify({ files: COUNT, windowMs: WINDOW_MS, stability: stabilityArg ?? "none", created, changed, idle, maxRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`,
);
