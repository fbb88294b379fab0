// Shared helpers for the benchmark scripts: deterministic data, timing, child processes with peak RSS, peers.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** Deterministic pseudo-random bytes (xorshift32), so every run backs up the same data. */
export function prng(seed) {
  let x = seed >>> 0 || 1;
  return (buf) => {
    for (let i = 0; i + 4 <= buf.length; i += 4) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      buf.writeUInt32LE(x, i);
    }
    return buf;
  };
}

/** Deterministic integers in [0, n) (a second xorshift32 stream, independent of the bytes). */
export function randomInt(seed) {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

/** Writes `count` files of `size` bytes spread over a tree 3 levels deep (100 files per directory). */
export async function makeFiles(root, count, size, seed, prefix = "f") {
  const fill = prng(seed);
  const buf = Buffer.alloc(Math.ceil(size / 4) * 4);
  for (let i = 0; i < count; i++) {
    const dir = join(root, `d${Math.floor(i / 10000)}`, `e${Math.floor(i / 100) % 100}`);
    if (i % 100 === 0) await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${prefix}${i}.bin`), fill(buf).subarray(0, size));
  }
}

const TIME = "/usr/bin/time";

/**
 * Runs a command; resolves with wall time (s), stdout, stderr and, when `/usr/bin/time` exists, the peak RSS of
 * the command (MiB, from `time -v`'s "Maximum resident set size"; for a tree of processes, the largest one) and
 * its CPU time (user + system seconds, children included).
 */
export function timed(cmd, args, options = {}) {
  const { measure = true, ...spawnOptions } = options;
  const wrap = measure && existsSync(TIME);
  const [file, argv] = wrap ? [TIME, ["-v", cmd, ...args]] : [cmd, args];
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(file, argv, { stdio: ["ignore", "pipe", "pipe"], ...spawnOptions });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      let maxRssMiB;
      let cpuSeconds;
      if (wrap) {
        const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(err);
        if (m) maxRssMiB = Number(m[1]) / 1024;
        const user = /User time \(seconds\): ([\d.]+)/.exec(err);
        const sys = /System time \(seconds\): ([\d.]+)/.exec(err);
        if (user && sys) cpuSeconds = Number(user[1]) + Number(sys[1]);
        const cut = err.lastIndexOf("\tCommand being timed:");
        if (cut !== -1) err = err.slice(0, cut);
      }
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${err.slice(-2000)}`));
      resolve({ seconds, stdout: out, stderr: err, ...(maxRssMiB !== undefined ? { maxRssMiB } : {}), ...(cpuSeconds !== undefined ? { cpuSeconds } : {}) });
    });
  });
}

/** Runs a node script of this directory as a child (under `time -v`); parses its last stdout line as JSON. */
export async function nodeChild(script, args, options = {}) {
  const r = await timed(process.execPath, [script, ...args], options);
  const last = r.stdout.trim().split("\n").at(-1);
  const out = JSON.parse(last);
  return { ...out, wallSeconds: r.seconds, cpuSeconds: r.cpuSeconds, maxRssMiB: r.maxRssMiB ?? out.maxRssMiB };
}

/** Counts the calls a storage backend gets (get, list, head) from now on: `calls()` tells how many so far. */
export function countStorageCalls(storage) {
  let n = 0;
  for (const m of ["get", "list", "head"]) {
    const original = storage[m].bind(storage);
    storage[m] = (...args) => {
      n++;
      return original(...args);
    };
  }
  return () => n;
}

/** The shortest of `times` runs of `fn`, in ms (in-process micro-benchmarks). */
export function bestMs(times, fn) {
  let ms = Infinity;
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    fn(i);
    ms = Math.min(ms, performance.now() - started);
  }
  return ms;
}

/** {@link bestMs} of an async `fn` (given the run's index). */
export async function bestMsAsync(times, fn) {
  let ms = Infinity;
  for (let i = 0; i < times; i++) {
    const started = performance.now();
    await fn(i);
    ms = Math.min(ms, performance.now() - started);
  }
  return ms;
}

/** Median of numbers. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor((s.length - 1) / 2)] + s[Math.ceil((s.length - 1) / 2)]) / 2 : NaN;
}

/** The p-th percentile (0–100, nearest rank) of numbers. */
export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/**
 * Makes sure `binary` runs (`binary --version`-style probe `probe`); when it does not and we are root with
 * apt-get, installs Debian package `pkg`. Returns whether it is usable.
 */
export function ensureTool(binary, pkg, probe = ["version"], say = () => undefined) {
  const works = () => spawnSync(binary, probe, { stdio: "ignore" }).status === 0;
  if (works()) return true;
  if (process.getuid?.() !== 0 || spawnSync("apt-get", ["--version"], { stdio: "ignore" }).status !== 0) {
    say(`${binary} missing and cannot install it (needs root and apt-get)`);
    return false;
  }
  say(`${binary} missing: apt-get install -y ${pkg}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  let r = spawnSync("apt-get", ["install", "-y", pkg], { stdio: "ignore", env });
  if (r.status !== 0) {
    spawnSync("apt-get", ["update"], { stdio: "ignore", env });
    r = spawnSync("apt-get", ["install", "-y", pkg], { stdio: "ignore", env });
  }
  return r.status === 0 && works();
}

/**
 * Samples this process's resident memory every 20 ms from a worker thread (so a busy main thread is still sampled):
 * `stop()` gives the peaks of anonymous memory (the heap, buffers) and of file-backed pages (LMDB's mapped files,
 * which are page cache the kernel may drop) in MiB.
 */
export async function sampleRss() {
  const { Worker } = await import("node:worker_threads");
  const shared = new Int32Array(new SharedArrayBuffer(12));
  const source = `
    const { workerData } = require("node:worker_threads");
    const { readFileSync } = require("node:fs");
    const peaks = workerData;
    const kib = (text, field) => Number(new RegExp(field + ":\\\\s+(\\\\d+)").exec(text)?.[1] ?? 0);
    const sample = () => {
      const s = readFileSync("/proc/self/status", "utf8");
      Atomics.store(peaks, 0, Math.max(Atomics.load(peaks, 0), kib(s, "RssAnon")));
      Atomics.store(peaks, 1, Math.max(Atomics.load(peaks, 1), kib(s, "RssFile")));
    };
    const timer = setInterval(() => (Atomics.load(peaks, 2) ? clearInterval(timer) : sample()), 20);
    sample();`;
  const worker = new Worker(source, { eval: true, workerData: shared });
  worker.unref();
  return {
    stop() {
      Atomics.store(shared, 2, 1);
      void worker.terminate();
      return { anonMiB: Math.round(shared[0] / 1024), fileMiB: Math.round(shared[1] / 1024) };
    },
  };
}
