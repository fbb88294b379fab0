#!/usr/bin/env node
// Times the two stability checks (procfs, the default, and lsof) for 100 and 1,000 candidate files while 200
// unrelated sleeping processes run, plus a few processes holding some of the candidates open for writing.
// Prints human lines, then BENCH_RESULT {...} as the last line. Needs the built dist (npx tsc -b).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { LsofWriterCheck, ProcfsWriterCheck } from "@rtbackup/plugin-open-files";

const SLEEPERS = 200;
const HELD = 10;
const SIZES = [100, 1000];
const RUNS = { procfs: 21, lsof: 7 };
const LSOF = "/usr/bin/lsof";
const say = (s) => process.stdout.write(`${s}\n`);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x) => Math.round(x * 100) / 100;

function hasLsof() {
  try {
    accessSync(LSOF, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function startProcess(args) {
  const child = spawn(args[0], args.slice(1), { stdio: "ignore" });
  await once(child, "spawn");
  return child;
}

async function stopAll(children) {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        return;
      }
      await exited;
    }),
  );
}

async function time(check, paths, runs) {
  const ms = [];
  let answer;
  await check.writers(paths);
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    answer = await check.writers(paths);
    ms.push(performance.now() - t);
  }
  return { ms: median(ms), answer };
}

const dir = mkdtempSync(join(tmpdir(), "rtb-openfiles-bench-"));
const children = [];
const result = {};
try {
  const files = Array.from({ length: Math.max(...SIZES) }, (_, i) => {
    const p = join(dir, `file-${String(i).padStart(4, "0")}`);
    writeFileSync(p, "x");
    return p;
  });
  for (let i = 0; i < SLEEPERS; i++) children.push(await startProcess(["sleep", "600"]));
  // Writers spread over the first 100 files, so both sizes have some.
  for (let i = 0; i < HELD; i++) {
    children.push(await startProcess(["sh", "-c", 'exec 3>>"$1" 4<"$2"; exec sleep 600', "holder", files[i * 10], files[i * 10 + 1]]));
  }
  const procfs = new ProcfsWriterCheck();
  const lsof = hasLsof() ? new LsofWriterCheck({ lsofBinaryPath: LSOF }) : undefined;
  if (!lsof) say(`lsof not found at ${LSOF}: lsof figures left out (apt-get install lsof)`);

  for (const size of SIZES) {
    const paths = files.slice(0, size);
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const p = await time(procfs, paths, RUNS.procfs);
    loop.disable();
    const scan = procfs.lastScan;
    say(
      `procfs ${size} files: median ${p.ms.toFixed(1)} ms over ${RUNS.procfs} runs (${scan.processes} processes, ` +
        `${scan.fds} descriptors, ${p.answer.size} writers, longest event-loop stall ${(loop.max / 1e6).toFixed(1)} ms)`,
    );
    result[`procfs_${size}_files_ms`] = round(p.ms);
    result[`procfs_${size}_files_max_event_loop_stall_ms`] = round(loop.max / 1e6);
    result[`scanned_processes_${size}_count`] = scan.processes;
    if (p.answer.size !== HELD) throw new Error(`procfs found ${p.answer.size} writers, expected ${HELD}`);
    if (lsof) {
      const l = await time(lsof, paths, RUNS.lsof);
      say(`lsof   ${size} files: median ${l.ms.toFixed(1)} ms over ${RUNS.lsof} runs (${l.answer.size} writers)`);
      result[`lsof_${size}_files_ms`] = round(l.ms);
      const same = [...p.answer].sort().join("\n") === [...l.answer].sort().join("\n");
      if (!same) throw new Error(`procfs and lsof disagree for ${size} files`);
      say(`  procfs is ${(l.ms / p.ms).toFixed(1)}× faster than lsof; both found the same ${l.answer.size} writers`);
      result[`lsof_over_procfs_${size}_files_ratio`] = round(l.ms / p.ms);
    }
  }
} finally {
  await stopAll(children);
  rmSync(dir, { recursive: true, force: true });
}
say(`BENCH_RESULT ${JSON.stringify(result)}`);
