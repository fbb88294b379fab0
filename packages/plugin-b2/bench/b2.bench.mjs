// B2 through the B2 emulator (run in a child process, so client and server do not share an event loop):
// 1. B2Storage alone: put / get / head / list throughput for small and large objects, and B2 transactions per class
//    per 1,000 objects put, got and listed;
// 2. the engine with B2StoragePlugin: initial backup of a generated tree into the emulated bucket, then a full
//    restore from the bucket alone, with B2 transactions per class per 1,000 files backed up and restored, and for
//    listing everything (loading the restore tree from the index; and a raw listing of every object).
// Prints human lines, then as its last line: BENCH_RESULT {json}.
// Usage: node packages/plugin-b2/bench/b2.bench.mjs   (after `npx tsc -b`)
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Readable } from "node:stream";
import { Engine, Restorer, loadTree, openRepository, silentSink } from "@rtbackup/core";
import { B2Storage, B2StoragePlugin } from "@rtbackup/plugin-b2";

const SMALL_COUNT = 1000;
const SMALL_SIZE = 4096;
const LARGE_COUNT = 6;
const LARGE_SIZE = 24 * 1024 * 1024;
const CONCURRENCY = 4; // UploadThreadCount's default
const TREE_SMALL = 2000; // files of 4 KiB
const TREE_LARGE = 4; // files of 16 MiB
const say = (line) => process.stdout.write(`${line}\n`);

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
      if (child.exitCode !== null) return;
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

/** Billed transactions per class, per 1,000 of `n` things. */
const per1000 = (counts, n) => ({
  A: +((counts.billed.A * 1000) / n).toFixed(1),
  B: +((counts.billed.B * 1000) / n).toFixed(1),
  C: +((counts.billed.C * 1000) / n).toFixed(1),
});

async function phase(emulator, work) {
  const since = await emulator.lastSeq();
  const started = performance.now();
  const result = await work();
  const ms = performance.now() - started;
  return { ms, counts: await emulator.counts(since), result };
}

function record(figures, prefix, classes) {
  for (const [cls, n] of Object.entries(classes)) figures[`${prefix}_class_${cls}`] = n;
}

function backendFor(info, extra = {}) {
  return new B2Storage({
    keyId: info.keyId,
    applicationKey: info.applicationKey,
    bucketId: info.bucketId,
    authorizeUrl: info.authorizeUrl,
    owner: "bench",
    ...extra,
  });
}

async function backendBench(emulator, info, figures) {
  const backend = backendFor(info);
  try {
    const smallData = Array.from({ length: SMALL_COUNT }, () => randomBytes(SMALL_SIZE));
    const keys = smallData.map((_, i) => `bench/small/${String(i).padStart(5, "0")}`);
    const put = await phase(emulator, () =>
      mapLimit(keys, CONCURRENCY, (key, i) => backend.put(key, i % 2 ? smallData[i] : () => Readable.from([smallData[i]]), SMALL_SIZE)),
    );
    const get = await phase(emulator, () => mapLimit(keys, CONCURRENCY, async (key) => drain(await backend.get(key))));
    const head = await phase(emulator, () => mapLimit(keys.slice(0, 200), CONCURRENCY, (key) => backend.head(key)));
    const list = await phase(emulator, async () => {
      let n = 0;
      for await (const _ of backend.list("bench/small/")) n++;
      return n;
    });
    if (list.result !== SMALL_COUNT) throw new Error(`listed ${list.result} objects, expected ${SMALL_COUNT}`);
    const large = randomBytes(LARGE_SIZE);
    const largeKeys = Array.from({ length: LARGE_COUNT }, (_, i) => `bench/large/${i}`);
    const largePut = await phase(emulator, async () => {
      for (const key of largeKeys) await backend.put(key, () => Readable.from([large.subarray(0, LARGE_SIZE / 2), large.subarray(LARGE_SIZE / 2)]), LARGE_SIZE);
    });
    const largeGet = await phase(emulator, async () => {
      for (const key of largeKeys) await drain(await backend.get(key));
    });
    const mib = (LARGE_COUNT * LARGE_SIZE) / 1024 / 1024;
    figures.storage_put_small_objects_per_s = +(SMALL_COUNT / (put.ms / 1000)).toFixed(1);
    figures.storage_get_small_objects_per_s = +(SMALL_COUNT / (get.ms / 1000)).toFixed(1);
    figures.storage_head_objects_per_s = +(200 / (head.ms / 1000)).toFixed(1);
    figures.storage_list_1000_objects_ms = +list.ms.toFixed(1);
    figures.storage_put_large_MiB_per_s = +(mib / (largePut.ms / 1000)).toFixed(1);
    figures.storage_get_large_MiB_per_s = +(mib / (largeGet.ms / 1000)).toFixed(1);
    const tx = { put: per1000(put.counts, SMALL_COUNT), get: per1000(get.counts, SMALL_COUNT), list: per1000(list.counts, SMALL_COUNT) };
    record(figures, "storage_tx_per_1000_objects_put", tx.put);
    record(figures, "storage_tx_per_1000_objects_got", tx.get);
    record(figures, "storage_tx_per_1000_objects_listed", tx.list);
    figures.storage_calls_per_24MiB_large_file_put = +(largePut.counts.calls.A / LARGE_COUNT).toFixed(1);
    say(`B2Storage, ${CONCURRENCY} operations at a time:`);
    say(
      `  ${SMALL_COUNT} x ${SMALL_SIZE} B: put ${put.ms.toFixed(0)} ms, get ${get.ms.toFixed(0)} ms, list ${list.ms.toFixed(1)} ms; 200 heads ${head.ms.toFixed(0)} ms`,
    );
    say(`  ${LARGE_COUNT} x ${LARGE_SIZE / 1048576} MiB (large-file API, 5 MiB parts): put ${largePut.ms.toFixed(0)} ms, get ${largeGet.ms.toFixed(0)} ms`);
    say(`  billed transactions per 1,000 objects (A/B/C): put ${JSON.stringify(tx.put)}, got ${JSON.stringify(tx.get)}, listed ${JSON.stringify(tx.list)}`);
    say(`  calls for 1,000 puts: ${JSON.stringify(put.counts.byApi)}`);
    say(`  calls for ${LARGE_COUNT} large puts: ${JSON.stringify(largePut.counts.byApi)}`);
  } finally {
    await backend.close();
  }
}

async function makeTree(root) {
  let seed = 7;
  const fill = (buf) => {
    for (let i = 0; i < buf.length; i += 4) {
      seed ^= seed << 13;
      seed >>>= 0;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      seed >>>= 0;
      buf.writeUInt32LE(seed, i);
    }
    return buf;
  };
  const small = Buffer.alloc(4096);
  for (let i = 0; i < TREE_SMALL; i++) {
    const dir = join(root, "small", `d${Math.floor(i / 100)}`);
    if (i % 100 === 0) await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `f${i}.bin`), fill(small));
  }
  await mkdir(join(root, "large"), { recursive: true });
  const large = Buffer.alloc(16 * 1024 * 1024);
  for (let i = 0; i < TREE_LARGE; i++) await writeFile(join(root, "large", `big${i}.bin`), fill(large));
}

/**
 * The engine with B2StoragePlugin: initial backup of a generated tree, a full restore from the bucket alone, and
 * listing everything; records times and B2 transactions per class in `figures`.
 */
async function engineBench(emulator, info, figures) {
  const dir = await mkdtemp(join(tmpdir(), "rtb-b2-bench-"));
  const restoreBackend = backendFor(info, { owner: "bench-restore", namePrefix: "engine/" });
  try {
    const src = join(dir, "src");
    await makeTree(src);
    const engine = engineFor(info, dir, src);
    const backup = await phase(emulator, async () => {
      await engine.start();
      try {
        return await engine.initialBackup();
      } finally {
        await engine.stop();
      }
    });
    const out = join(dir, "out");
    const restore = await phase(emulator, () => restoreAll(restoreBackend, out));
    const listTree = await phase(emulator, async () => loadTree(await openRepository(restoreBackend)));
    const listAll = await phase(emulator, async () => {
      let n = 0;
      for await (const _ of restoreBackend.list("")) n++;
      return n;
    });
    const sample = join("small", "d7", "f777.bin");
    if (!(await readFile(join(src, sample))).equals(await readFile(join(out, src.slice(1), sample)))) throw new Error("restored file differs");
    reportEngine(figures, { backup, restore, listTree, listAll });
  } finally {
    await restoreBackend.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** An engine backing `src` up into the emulated bucket, with its state and staging under `dir`. */
function engineFor(info, dir, src) {
  return new Engine({
    parameters: {
      storage: "b2",
      remoteStorageKeyID: info.keyId,
      remoteStorageApplicationKey: info.applicationKey,
      remoteStorageBucketID: info.bucketId,
      remoteFileStateCachePath: join(dir, "state"),
      stagingDirectory: join(dir, "staging"),
      backupRoots: [src],
      pathFilters: [],
      batchUploadConsolidationDelay: 1000,
    },
    log: { sink: silentSink },
    plugins: [new B2StoragePlugin({ authorizeUrl: info.authorizeUrl, owner: "bench-engine", namePrefix: "engine/" })],
  });
}

/** Restores the whole tree from the bucket alone into `out`; throws when the restore had errors. */
async function restoreAll(backend, out) {
  const repo = await openRepository(backend);
  const tree = await loadTree(repo);
  const result = await new Restorer(tree.chunks).restore(Restorer.select(tree.entries, ["/"], true).entries, out);
  if (result.errors || result.unsafe) throw new Error(`restore had errors: ${JSON.stringify(result)}`);
  return result;
}

/** Records the engine phases' figures and prints them. */
function reportEngine(figures, { backup, restore, listTree, listAll }) {
  const files = TREE_SMALL + TREE_LARGE;
  const mib = (TREE_SMALL * 4096 + TREE_LARGE * 16 * 1024 * 1024) / 1048576;
  figures.engine_initial_backup_s = +(backup.ms / 1000).toFixed(2);
  figures.engine_restore_s = +(restore.ms / 1000).toFixed(2);
  figures.engine_objects_in_bucket = listAll.result;
  record(figures, "engine_tx_per_1000_files_backed_up", per1000(backup.counts, files));
  record(figures, "engine_tx_per_1000_files_restored", per1000(restore.counts, files));
  record(figures, "engine_tx_list_whole_tree_from_index", listTree.counts.billed);
  record(figures, "engine_tx_list_every_object_in_bucket", listAll.counts.billed);
  say(`engine, tree of ${TREE_SMALL} x 4 KiB + ${TREE_LARGE} x 16 MiB (${mib.toFixed(0)} MiB, ${listAll.result} objects in the bucket):`);
  say(`  initial backup ${(backup.ms / 1000).toFixed(2)} s, restore ${(restore.ms / 1000).toFixed(2)} s`);
  say(
    `  billed transactions per 1,000 files (A/B/C): backed up ${JSON.stringify(per1000(backup.counts, files))}, restored ${JSON.stringify(per1000(restore.counts, files))}`,
  );
  say(
    `  listing everything (billed A/B/C, in all): the whole tree from the index ${JSON.stringify(listTree.counts.billed)}, every object ${JSON.stringify(listAll.counts.billed)}`,
  );
  say(`  calls for the backup: ${JSON.stringify(backup.counts.byApi)}`);
  say(`  calls for the restore: ${JSON.stringify(restore.counts.byApi)}`);
}

const emulator = startEmulator({});
const figures = {};
try {
  const info = await emulator.ready;
  await backendBench(emulator, info, figures);
  await engineBench(emulator, info, figures);
} finally {
  await emulator.stop();
}
say(`BENCH_RESULT ${JSON.stringify(figures)}`);
