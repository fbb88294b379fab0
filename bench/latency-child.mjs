// Real-time path: latency from a file's close to the commit of its index record, for bursts of changed files.
// An in-process engine (local store, live snapshots, no stability plugin) with SnapshotSharingWindow and
// BatchUploadConsolidationDelay at 100 ms; a scripted source writes each file, stamps its close and submits an
// update event; commit times come from `engine.hooks.commit`. Two bursts: N new files, then the same N rewritten.
// With `procfs`, ProcfsStabilityPlugin (plugin-open-files) checks writers as it would in the daemon.
// Usage: node latency-child.mjs <dir> [files=1000] [procfs]; prints one JSON line.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Engine, silentSink } from "@rtbackup/core";
import { ProcfsStabilityPlugin } from "@rtbackup/plugin-open-files";
import { percentile, prng } from "./lib.mjs";

const [dir, countArg, stabilityArg] = process.argv.slice(2);
const COUNT = Number(countArg ?? 1000);
const WINDOW_MS = 100;
const DEADLINE_MS = 120_000;
const src = join(dir, "src");
await mkdir(src, { recursive: true });

/** The scripted source: writes files itself and submits one update per close. */
class ScriptedBurstSource {
  name = "ScriptedBurstSource";
  engine;
  apply(engine) {
    this.engine = engine;
  }
  /** Writes `paths` back to back; returns close time (performance.now()) per path. */
  async burst(paths, seed) {
    const fill = prng(seed);
    const buf = Buffer.alloc(4096);
    const closed = new Map();
    for (const path of paths) {
      await writeFile(path, fill(buf));
      closed.set(path, performance.now());
      this.engine.submit({ type: "update", path });
    }
    return closed;
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
  const now = performance.now();
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
  const t0 = performance.now();
  const closed = await source.burst(paths, seed);
  const burstMs = performance.now() - t0;
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
await engine.stop();
process.stdout.write(`${JSON.stringify({ files: COUNT, windowMs: WINDOW_MS, stability: stabilityArg ?? "none", created, changed, maxRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`);
