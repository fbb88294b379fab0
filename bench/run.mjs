#!/usr/bin/env node
// npm run bench: the engine side by side with the tools a user would otherwise pick, on the same generated data, in
// the same run; then every package's `bench/*.bench.mjs`. Writes bench/results/latest.md and latest.json.
//
// Per dataset (bench/datasets.mjs): initial backup and full restore vs restic (local repository) and vs rclone copy
// (to the same s3rver as our S3StoragePlugin); incremental backup after touching 1% of files; rescan of the
// unchanged tree vs `find -printf '%s %T@'`; `cp -a` as the floor of a copy; peak RSS of every process
// (/usr/bin/time -v); B2 transactions per 1,000 files (the emulator counts). Then close-to-commit latency of a burst
// of 1,000 changed files with both windows at 100 ms. With --scaling: StateCache at 100k and 1M entries and a
// rescan of as many real files as fit in the time budget.
//
// Options: --scale X (default 1; dataset sizes), --only REGEX (sections: dataset:small|sparse|large|mixed, latency,
//          scaling, packages/<pkg>/<bench>; a run with --only writes results/partial.* instead of latest.*),
//          --scaling (add the scaling run), --scaling-files N (most real files for its rescan; default 1,000,000;
//          with N below 100,000 the cache is measured at N entries only, for a quick try).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { datasets, touchOnePercent } from "./datasets.mjs";
import { ensureTool, nodeChild, timed } from "./lib.mjs";
import { cpFloor, findFloor, rclone, restic, startS3rver } from "./peers.mjs";
import { renderMarkdown } from "./report.mjs";
import { scalingBench } from "./scaling.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const value = (name) => (flag(name) ? args[args.indexOf(name) + 1] : undefined);
const scale = Number(value("--scale") ?? 1) || 1;
const only = value("--only") !== undefined ? new RegExp(value("--only")) : undefined;
const wanted = (section) => !only || only.test(section);
const say = (s) => process.stdout.write(`${s}\n`);
const child = (name) => join(here, name);

const results = { datasets: {}, latency: undefined, scaling: undefined, packages: {} };
const started = Date.now();
// Other work on the machine skews every figure; the load average before and after says how much there was.
const loadBefore = loadavg();

say("peers: checking restic, rclone, /usr/bin/time");
const tools = {
  time: ensureTool("/usr/bin/time", "time", ["--version"], say),
  restic: ensureTool("restic", "restic", ["version"], say),
  rclone: ensureTool("rclone", "rclone", ["version"], say),
};
const versions = {
  node: process.version,
  restic: tools.restic ? spawnSync("restic", ["version"], { encoding: "utf8" }).stdout.trim() : "missing",
  rclone: tools.rclone ? spawnSync("rclone", ["version"], { encoding: "utf8" }).stdout.split("\n")[0] : "missing",
  cpus: (await import("node:os")).cpus().length,
};
say(JSON.stringify(versions));

/** Compares two trees (content, file types, symlink targets); throws when they differ. */
async function verify(a, b, who) {
  const r = spawnSync("diff", ["-r", "--no-dereference", "-q", a, b], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${who}: restored tree differs from the source: ${(r.stdout + r.stderr).slice(0, 1000)}`);
}

/**
 * One dataset: generated, then backed up, backed up again unchanged and incrementally, and restored, by rtb and by
 * each peer; then backed up and restored through the B2 emulator. Returns every figure, or what was measured until
 * a failure and the error.
 */
async function datasetBench(ds) {
  const dir = await mkdtemp(join(tmpdir(), `rtb-bench-${ds.name}-`));
  const run = { dir, server: undefined };
  const r = { describe: ds.describe };
  try {
    say(`\n=== dataset ${ds.name}: ${ds.describe}`);
    await generateDataset(ds, run, r);
    await measureFloors(run, r);
    await localBackups(run, r);
    await s3Backups(run, r);
    await incrementalBackups(run, r);
    await restores(run, r);
    await run.server.stop();
    run.server = undefined;
    await b2Transactions(run, r);
  } catch (err) {
    say(`dataset ${ds.name} FAILED: ${err.stack ?? err}`);
    r.error = String(err.message ?? err).slice(0, 1000);
  } finally {
    await run.server?.stop();
    await rm(dir, { recursive: true, force: true });
  }
  for (const v of Object.values(r)) {
    if (v && typeof v === "object") {
      delete v.stdout;
      delete v.stderr;
    }
  }
  return r;
}

/** Generates the dataset's tree under `run.dir` and records its size; sets the paths of the local store and state. */
async function generateDataset(ds, run, r) {
  const { dir } = run;
  run.src = join(dir, "src");
  run.files = await ds.generate(run.src);
  const du = spawnSync("du", ["-sm", run.src], { encoding: "utf8" }).stdout.split("\t")[0];
  r.files = run.files.length;
  r.MiB = Number(du);
  await timed("sync", [], { measure: false });
  run.local = JSON.stringify({ kind: "local", path: join(dir, "store") });
  run.stateLocal = join(dir, "state-local");
}

/** The floors: `cp -a` of the tree, and `find` over it (once to warm up, then measured). */
async function measureFloors(run, r) {
  r.cp_a = await cpFloor(run.src, run.dir);
  await rm(join(run.dir, "cp-copy"), { recursive: true, force: true });
  await findFloor(run.src);
  r.find = await findFloor(run.src);
}

/** rtb's initial backup to the local store and its unchanged rescan; restic's initial backup (when installed). */
async function localBackups(run, r) {
  const { dir, src, local, stateLocal } = run;
  r.rtb_local_backup = await nodeChild(child("core-child.mjs"), ["backup", local, src, stateLocal]);
  say(`rtb initial backup (local store): ${r.rtb_local_backup.wallSeconds.toFixed(2)} s`);
  r.rtb_rescan = await nodeChild(child("core-child.mjs"), ["backup", local, src, stateLocal]);
  if (r.rtb_rescan.changed !== 0) throw new Error(`unchanged rescan queued ${r.rtb_rescan.changed} paths`);
  say(`rtb unchanged rescan: scan ${r.rtb_rescan.scanMs} ms (process ${r.rtb_rescan.wallSeconds.toFixed(2)} s); find ${(r.find.seconds * 1000).toFixed(0)} ms`);

  run.rs = tools.restic ? restic(join(dir, "restic-repo"), join(dir, "restic-cache")) : undefined;
  if (run.rs) {
    await run.rs.init();
    r.restic_backup = await run.rs.backup(src);
    say(`restic initial backup: ${r.restic_backup.seconds.toFixed(2)} s`);
  }
}

/** Starts s3rver; rtb's initial backup to it, and rclone's copy up (when installed). */
async function s3Backups(run, r) {
  const { dir, src } = run;
  run.server = await startS3rver(join(dir, "s3rver"), "rtb-bench");
  run.s3 = JSON.stringify({ kind: "s3", endpoint: run.server.endpoint, bucket: "rtb-bench", prefix: "rtb" });
  run.stateS3 = join(dir, "state-s3");
  r.rtb_s3_backup = await nodeChild(child("core-child.mjs"), ["backup", run.s3, src, run.stateS3]);
  say(`rtb initial backup (s3rver): ${r.rtb_s3_backup.wallSeconds.toFixed(2)} s`);
  run.rc = tools.rclone ? rclone(run.server) : undefined;
  if (run.rc) {
    r.rclone_up = await run.rc.up(src, "rclone");
    say(`rclone copy up: ${r.rclone_up.seconds.toFixed(2)} s`);
  }
}

/** Rewrites 1% of the files, then every contender backs up again. */
async function incrementalBackups(run, r) {
  const { src, local, stateLocal, rs, s3, stateS3, rc } = run;
  r.touched = await touchOnePercent(run.files);
  await timed("sync", [], { measure: false });
  r.rtb_local_incremental = await nodeChild(child("core-child.mjs"), ["backup", local, src, stateLocal]);
  if (rs) r.restic_incremental = await rs.backup(src);
  r.rtb_s3_incremental = await nodeChild(child("core-child.mjs"), ["backup", s3, src, stateS3]);
  if (rc) r.rclone_incremental = await rc.up(src, "rclone");
  say(
    `incremental (${r.touched} files touched): rtb local ${r.rtb_local_incremental.wallSeconds.toFixed(2)} s, restic ${r.restic_incremental?.seconds.toFixed(2)} s, rtb s3 ${r.rtb_s3_incremental.wallSeconds.toFixed(2)} s, rclone ${r.rclone_incremental?.seconds.toFixed(2)} s`,
  );
}

/** Every contender restores the whole tree; each restore is compared with the source, then removed. */
async function restores(run, r) {
  const { dir, src, local, rs, s3, rc } = run;
  r.rtb_local_restore = await nodeChild(child("core-child.mjs"), ["restore", local, join(dir, "out-local")]);
  await verify(src, join(dir, "out-local", src.slice(1)), "rtb local restore");
  await rm(join(dir, "out-local"), { recursive: true, force: true });
  if (rs) {
    r.restic_restore = await rs.restore(join(dir, "out-restic"));
    await verify(src, join(dir, "out-restic", src.slice(1)), "restic restore");
    await rm(join(dir, "out-restic"), { recursive: true, force: true });
  }
  r.rtb_s3_restore = await nodeChild(child("core-child.mjs"), ["restore", s3, join(dir, "out-s3")]);
  await verify(src, join(dir, "out-s3", src.slice(1)), "rtb s3 restore");
  await rm(join(dir, "out-s3"), { recursive: true, force: true });
  if (rc) {
    r.rclone_down = await rc.down("rclone", join(dir, "out-rclone"));
    await verify(src, join(dir, "out-rclone"), "rclone copy down");
    await rm(join(dir, "out-rclone"), { recursive: true, force: true });
  }
  say(
    `restore: rtb local ${r.rtb_local_restore.wallSeconds.toFixed(2)} s, restic ${r.restic_restore?.seconds.toFixed(2)} s, rtb s3 ${r.rtb_s3_restore.wallSeconds.toFixed(2)} s, rclone ${r.rclone_down?.seconds.toFixed(2)} s (all verified)`,
  );
}

/** Backup and restore through the B2 emulator, with its transaction counts per 1,000 files. */
async function b2Transactions(run, r) {
  r.b2 = await nodeChild(child("b2-child.mjs"), [run.src, join(run.dir, "b2"), String(run.files.length)]);
  say(`B2 transactions per 1,000 files: backup ${JSON.stringify(r.b2.backupPer1000)}, restore ${JSON.stringify(r.b2.restorePer1000)}`);
}

async function latencyBench() {
  const out = {};
  for (const stability of ["none", "procfs"]) {
    const dir = await mkdtemp(join(tmpdir(), "rtb-bench-latency-"));
    try {
      say(`\n=== real-time path: bursts of 1,000 files, windows 100 ms, stability check: ${stability}`);
      const r = await nodeChild(child("latency-child.mjs"), [dir, "1000", ...(stability === "none" ? [] : [stability])]);
      say(
        `close→commit: new files p50 ${r.created.p50Ms.toFixed(0)} ms p99 ${r.created.p99Ms.toFixed(0)} ms; changed files p50 ${r.changed.p50Ms.toFixed(0)} ms p99 ${r.changed.p99Ms.toFixed(0)} ms; one file on an idle engine p50 ${r.idle.p50Ms.toFixed(0)} ms; peak RSS ${r.maxRssMiB.toFixed(0)} MiB`,
      );
      out[stability] = r;
    } catch (err) {
      say(`latency (${stability}) FAILED: ${err.stack ?? err}`);
      out[stability] = { error: String(err.message ?? err).slice(0, 1000) };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return out;
}

async function packageBenches() {
  for (const group of ["packages", "examples"]) {
    const base = join(root, group);
    if (!existsSync(base)) continue;
    for (const pkg of (await readdir(base)).sort()) {
      const bdir = join(base, pkg, "bench");
      if (!existsSync(bdir)) continue;
      for (const file of (await readdir(bdir)).filter((f) => f.endsWith(".bench.mjs")).sort()) {
        const name = `${pkg}/${file.replace(/\.bench\.mjs$/, "")}`;
        if (!wanted(`packages/${name}`)) continue;
        say(`--- ${name}`);
        try {
          const { stdout } = await timed(process.execPath, [join(bdir, file)], { cwd: join(base, pkg), measure: false });
          process.stdout.write(stdout);
          const last = stdout
            .trim()
            .split("\n")
            .filter((l) => l.startsWith("BENCH_RESULT "))
            .at(-1);
          results.packages[name] = last ? JSON.parse(last.slice("BENCH_RESULT ".length)) : { error: "no BENCH_RESULT line" };
        } catch (err) {
          say(`${name} FAILED: ${err.message}`);
          results.packages[name] = { error: err.message.slice(0, 500) };
        }
      }
    }
  }
}

for (const ds of datasets(scale)) if (wanted(`dataset:${ds.name}`)) results.datasets[ds.name] = await datasetBench(ds);
if (wanted("latency")) results.latency = await latencyBench();
if (flag("--scaling") && wanted("scaling")) {
  try {
    const targetFiles = Number(value("--scaling-files") ?? 1_000_000);
    const cacheSizes = targetFiles < 100_000 ? [targetFiles] : [100_000, 1_000_000];
    results.scaling = await scalingBench({ say, child: child("scaling-child.mjs"), engineChild: child("core-child.mjs"), targetFiles, cacheSizes });
  } catch (err) {
    say(`scaling FAILED: ${err.stack ?? err}`);
    results.scaling = { error: String(err.message ?? err).slice(0, 1000) };
  }
}
await packageBenches();

const stamp = new Date().toISOString();
const meta = {
  date: stamp,
  scale,
  scaling: flag("--scaling"),
  only: only?.source,
  seconds: (Date.now() - started) / 1000,
  versions,
  loadavg: { before: loadBefore, after: loadavg() },
};
const out = only ? "partial" : "latest";
await mkdir(join(here, "results"), { recursive: true });
await writeFile(join(here, "results", `${out}.json`), `${JSON.stringify({ ...meta, results }, null, 2)}\n`);
const md = renderMarkdown(meta, results);
await writeFile(join(here, "results", `${out}.md`), md);
say(`\n${md}`);
