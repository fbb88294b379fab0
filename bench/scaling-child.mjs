// Scaling figures, one per process so peak RSS belongs to one measurement.
//   cache <dir> <n>: core's StateCache with n generated entries: insert (in batches of 10,000, as commits apply
//                    them), look every path up, iterate all; peak RSS and the database size.
// (The rescan of real files runs the engine itself, through core-child.mjs: see scaling.mjs.)
// Prints one JSON line.
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { StateCache } from "@rtbackup/core";

const [mode, dir, arg] = process.argv.slice(2);
const ms = (t0) => performance.now() - t0;
const rssMiB = () => process.resourceUsage().maxRSS / 1024;
// Resident memory of node, lmdb and core loaded, before any entry: what a million entries add is measured above it.
const baseRssMiB = process.memoryUsage().rss / 1048576;

function entry(path, i, extra = {}) {
  return {
    op: "put",
    path,
    type: "file",
    size: 1000 + (i % 5000),
    mtimeMs: 1.7e12 + i,
    mode: 0o100644,
    uid: 1000,
    gid: 1000,
    chunks: [i.toString(16).padStart(64, "0")],
    ...extra,
  };
}

if (mode === "cache") {
  const n = Number(arg);
  const cache = await StateCache.open(join(dir, "state"));
  const pathOf = (i) => `/home/user${i % 50}/projects/p${Math.floor(i / 1000) % 200}/src/dir${Math.floor(i / 50) % 20}/file${i}.ts`;
  let t0 = performance.now();
  let seq = 0;
  for (let start = 0; start < n; start += 10_000) {
    const records = [];
    const identity = new Map();
    for (let i = start; i < Math.min(n, start + 10_000); i++) {
      const path = pathOf(i);
      records.push(entry(path, i));
      identity.set(path, { ctimeMs: 1.7e12 + i, ino: 1000 + i });
    }
    await cache.applyBatch(seq++, records, identity);
  }
  const insertMs = ms(t0);
  t0 = performance.now();
  let found = 0;
  // A stride through the key space rather than insertion order, as a scan's lookups arrive.
  const stride = 7919;
  for (let k = 0, i = 0; k < n; k++, i = (i + stride) % n) if (cache.get(pathOf(i))) found++;
  const lookupMs = ms(t0);
  if (found !== n) throw new Error(`looked up ${found} of ${n}`);
  t0 = performance.now();
  let iterated = 0;
  for (const _ of cache.entries()) iterated++;
  const iterateMs = ms(t0);
  await cache.close();
  const dbBytes = (await stat(join(dir, "state", "state.mdb"))).size;
  process.stdout.write(`${JSON.stringify({ n, insertMs, lookupMs, iterateMs, iterated, dbMiB: dbBytes / 1048576, baseRssMiB, maxRssMiB: rssMiB() })}\n`);
} else throw new Error(`unknown mode ${mode}`);
