// Shared helpers for the benchmark scripts: deterministic data, timing, child processes with peak RSS.
import { spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** Deterministic pseudo-random bytes (xorshift32), so every run backs up the same data. */
export function prng(seed) {
  let x = seed >>> 0 || 1;
  return (buf) => {
    for (let i = 0; i < buf.length; i += 4) {
      x ^= x << 13; x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5; x >>>= 0;
      buf.writeUInt32LE(x, i);
    }
    return buf;
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

/** Runs a command; resolves with wall time (s) and, for node children that report it, peak RSS (MiB). */
export function timed(cmd, args, options = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${err.slice(-2000)}`));
      resolve({ seconds, stdout: out, stderr: err });
    });
  });
}

/** Median of numbers. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor((s.length - 1) / 2)] + s[Math.ceil((s.length - 1) / 2)]) / 2 : NaN;
}
