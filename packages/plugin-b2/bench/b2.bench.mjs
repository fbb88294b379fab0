// B2Storage through the B2 emulator (in a child process): put / get / list throughput for small and large objects,
// and B2 transactions per class per 1,000 objects put, got and listed. Last line: BENCH_RESULT {json}.
// Usage: node packages/plugin-b2/bench/b2.bench.mjs   (after `npx tsc -b`)
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Readable } from "node:stream";
import { B2Storage } from "@rtbackup/plugin-b2";

const SMALL_COUNT = 1000;
const SMALL_SIZE = 4096;
const LARGE_COUNT = 6;
const LARGE_SIZE = 24 * 1024 * 1024;
const CONCURRENCY = 4; // UploadThreadCount's default

function startEmulator(options) {
  const child = fork(fileURLToPath(new URL("./emulatorProcess.mjs", import.meta.url)), [JSON.stringify(options)], { stdio: "inherit" });
  let next = 0;
  const waiting = new Map();
  child.on("message", (m) => {
    if (m.id !== undefined) {
      waiting.get(m.id)?.(m.result);
      waiting.delete(m.id);
    }
  });
  const ask = (op, extra = {}) =>
    new Promise((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      child.send({ id, op, ...extra });
    });
  const ready = new Promise((resolve, reject) => {
    child.once("message", resolve);
    child.once("exit", (code) => reject(new Error(`emulator exited with ${code}`)));
  });
  return {
    ready,
    counts: (since) => ask("counts", { since }),
    lastSeq: () => ask("lastSeq"),
    async stop() {
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.send({ op: "stop" });
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

async function mapLimit(items, limit, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i], i);
      }
    }),
  );
}

async function drain(stream) {
  let n = 0;
  for await (const chunk of stream) n += chunk.length;
  return n;
}

const per1000 = (counts, n) => ({
  A: Math.round((counts.billed.A * 1000) / n),
  B: Math.round((counts.billed.B * 1000) / n),
  C: Math.round((counts.billed.C * 1000) / n),
});

async function phase(emulator, name, work) {
  const since = await emulator.lastSeq();
  const started = performance.now();
  const result = await work();
  const ms = performance.now() - started;
  const counts = await emulator.counts(since);
  return { name, ms, counts, result };
}

const emulator = startEmulator({});
const info = await emulator.ready;
const backend = new B2Storage({
  keyId: info.keyId,
  applicationKey: info.applicationKey,
  bucketId: info.bucketId,
  authorizeUrl: info.authorizeUrl,
  owner: "bench",
});
const figures = {};
try {
  const smallData = Array.from({ length: SMALL_COUNT }, () => randomBytes(SMALL_SIZE));
  const keys = smallData.map((_, i) => `bench/small/${String(i).padStart(5, "0")}`);
  const put = await phase(emulator, "put", () =>
    mapLimit(keys, CONCURRENCY, (key, i) => backend.put(key, i % 2 ? smallData[i] : () => Readable.from([smallData[i]]), SMALL_SIZE)),
  );
  const get = await phase(emulator, "get", () => mapLimit(keys, CONCURRENCY, async (key) => drain(await backend.get(key))));
  const list = await phase(emulator, "list", async () => {
    let n = 0;
    for await (const _ of backend.list("bench/small/")) n++;
    return n;
  });
  if (list.result !== SMALL_COUNT) throw new Error(`listed ${list.result} objects, expected ${SMALL_COUNT}`);
  const head = await phase(emulator, "head", () => mapLimit(keys.slice(0, 200), CONCURRENCY, (key) => backend.head(key)));

  const large = randomBytes(LARGE_SIZE);
  const largeKeys = Array.from({ length: LARGE_COUNT }, (_, i) => `bench/large/${i}`);
  const largePut = await phase(emulator, "large put", async () => {
    for (const key of largeKeys) await backend.put(key, () => Readable.from([large.subarray(0, LARGE_SIZE / 2), large.subarray(LARGE_SIZE / 2)]), LARGE_SIZE);
  });
  const largeGet = await phase(emulator, "large get", async () => {
    for (const key of largeKeys) await drain(await backend.get(key));
  });

  const mib = (LARGE_COUNT * LARGE_SIZE) / 1024 / 1024;
  figures.put_small_objects_per_s = +(SMALL_COUNT / (put.ms / 1000)).toFixed(1);
  figures.get_small_objects_per_s = +(SMALL_COUNT / (get.ms / 1000)).toFixed(1);
  figures.head_objects_per_s = +(200 / (head.ms / 1000)).toFixed(1);
  figures.list_1000_objects_ms = +list.ms.toFixed(1);
  figures.put_large_MiB_per_s = +(mib / (largePut.ms / 1000)).toFixed(1);
  figures.get_large_MiB_per_s = +(mib / (largeGet.ms / 1000)).toFixed(1);
  const tx = { put: per1000(put.counts, SMALL_COUNT), get: per1000(get.counts, SMALL_COUNT), list: per1000(list.counts, SMALL_COUNT) };
  for (const [op, classes] of Object.entries(tx)) {
    for (const [cls, n] of Object.entries(classes)) figures[`tx_class_${cls}_per_1000_${op === "list" ? "listed" : op === "put" ? "put" : "got"}`] = n;
  }
  figures.tx_per_large_object_put = +(largePut.counts.calls.A / LARGE_COUNT).toFixed(1);
  console.log(`B2Storage through the emulator (separate process), ${CONCURRENCY} operations at a time`);
  console.log(`  ${SMALL_COUNT} x ${SMALL_SIZE} B: put ${put.ms.toFixed(0)} ms, get ${get.ms.toFixed(0)} ms, list ${list.ms.toFixed(1)} ms`);
  console.log(`  ${LARGE_COUNT} x ${LARGE_SIZE / 1048576} MiB (large-file API, 5 MiB parts): put ${largePut.ms.toFixed(0)} ms, get ${largeGet.ms.toFixed(0)} ms`);
  console.log(`  transactions per 1,000 objects (billed, class A/B/C): put ${JSON.stringify(tx.put)}, got ${JSON.stringify(tx.get)}, listed ${JSON.stringify(tx.list)}`);
  console.log(`  calls per phase: put ${JSON.stringify(put.counts.byApi)}`);
  console.log(`                   large put ${JSON.stringify(largePut.counts.byApi)}`);
} finally {
  await backend.close();
  await emulator.stop();
}
console.log(`BENCH_RESULT ${JSON.stringify(figures)}`);
