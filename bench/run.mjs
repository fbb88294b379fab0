#!/usr/bin/env node
// npm run bench: core backup/restore on a generated tree with `cp -a` as the floor, then every package's
// `bench/*.bench.mjs`. Writes bench/results/latest.md and latest.json.
// Options: --scale X (default 1: 20,000 × 4 KiB + 20 × 16 MiB), --only REGEX (which package benches to run).
import { mkdtemp, readdir, rm, writeFile, mkdir } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeFiles, timed } from "./lib.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const args = process.argv.slice(2);
const scale = Number(args[args.indexOf("--scale") + 1] ?? 1) || 1;
const only = args.includes("--only") ? new RegExp(args[args.indexOf("--only") + 1]) : undefined;
const results = {};
const rows = [];
const say = (s) => process.stdout.write(`${s}\n`);

async function coreBench() {
  const dir = await mkdtemp(join(tmpdir(), "rtb-bench-"));
  try {
    const src = join(dir, "src");
    const small = Math.round(20000 * scale);
    const large = Math.max(1, Math.round(20 * scale));
    say(`generating ${small} × 4 KiB + ${large} × 16 MiB under ${src}`);
    await makeFiles(join(src, "small"), small, 4096, 1);
    await makeFiles(join(src, "large"), large, 16 * 1024 * 1024, 2, "big");
    await timed("sync", []);
    const child = join(here, "core-child.mjs");
    const backup = JSON.parse((await timed(process.execPath, [child, "backup", src, join(dir, "store"), join(dir, "state")])).stdout);
    const again = JSON.parse((await timed(process.execPath, [child, "backup", src, join(dir, "store"), join(dir, "state")])).stdout);
    const restore = JSON.parse((await timed(process.execPath, [child, "restore", join(dir, "store"), join(dir, "out")])).stdout);
    const cp = await timed("cp", ["-a", src, join(dir, "cp-copy")]);
    await timed("diff", ["-r", src, join(dir, "out", src.slice(1))]);
    const r = {
      dataset: `${small} × 4 KiB + ${large} × 16 MiB`,
      initial_backup_s: backup.seconds,
      initial_backup_peak_rss_mib: backup.maxRssMiB,
      unchanged_rescan_s: again.seconds,
      restore_s: restore.seconds,
      restore_peak_rss_mib: restore.maxRssMiB,
      cp_a_s: cp.seconds,
      backup_vs_cp_ratio: backup.seconds / cp.seconds,
    };
    results.core = r;
    rows.push(["core: initial backup to local store", `${r.initial_backup_s.toFixed(2)} s`, `${r.initial_backup_peak_rss_mib.toFixed(0)} MiB`, `cp -a ${r.cp_a_s.toFixed(2)} s (×${r.backup_vs_cp_ratio.toFixed(1)})`]);
    rows.push(["core: second backup, nothing changed", `${r.unchanged_rescan_s.toFixed(2)} s`, "", ""]);
    rows.push(["core: full restore", `${r.restore_s.toFixed(2)} s`, `${r.restore_peak_rss_mib.toFixed(0)} MiB`, `cp -a ${r.cp_a_s.toFixed(2)} s`]);
    say(JSON.stringify(r));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
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
        if (only && !only.test(name)) continue;
        say(`--- ${name}`);
        try {
          const { stdout } = await timed(process.execPath, [join(bdir, file)], { cwd: join(base, pkg) });
          process.stdout.write(stdout);
          const last = stdout.trim().split("\n").filter((l) => l.startsWith("BENCH_RESULT ")).at(-1);
          if (last) {
            const figures = JSON.parse(last.slice("BENCH_RESULT ".length));
            results[name] = figures;
            for (const [k, v] of Object.entries(figures)) rows.push([`${name}: ${k}`, typeof v === "number" ? String(Math.round(v * 100) / 100) : String(v), "", ""]);
          }
        } catch (err) {
          say(`${name} FAILED: ${err.message}`);
          results[name] = { error: err.message.slice(0, 500) };
          rows.push([`${name}`, "FAILED", "", ""]);
        }
      }
    }
  }
}

if (!only || only.test("core")) await coreBench();
await packageBenches();
await mkdir(join(here, "results"), { recursive: true });
const stamp = new Date().toISOString();
await writeFile(join(here, "results", "latest.json"), `${JSON.stringify({ date: stamp, scale, results }, null, 2)}\n`);
const md = [`# Benchmark results (${stamp}, scale ${scale})`, "", "| measurement | value | peak RSS | floor / peer |", "| --- | --- | --- | --- |", ...rows.map((r) => `| ${r.join(" | ")} |`), ""].join("\n");
await writeFile(join(here, "results", "latest.md"), md);
say(md);
