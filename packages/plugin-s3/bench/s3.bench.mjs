#!/usr/bin/env node
// S3 storage against s3rver on loopback, with `rclone copy` of the same files to the same s3rver as the peer.
//  1. S3Storage put/get throughput: many small objects (8 in flight, like upload threads) and a few large ones
//     (multipart, 4 parts in flight).
//  2. The engine: initial backup of the same tree to s3rver (S3StoragePlugin from parameters) and a full restore.
//  3. rclone copy up and down of the same tree (installed with apt-get when missing and running as root).
// Prints human lines, then `BENCH_RESULT {json}` as the last line. Options: --small N, --large N, --large-mib N.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { Engine, Restorer, loadTree, openRepository, silentSink } from "@rtbackup/core";
import { S3Storage, S3StoragePlugin } from "@rtbackup/plugin-s3";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, def) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
const SMALL = opt("--small", 600);
const LARGE = opt("--large", 4);
const LARGE_MIB = opt("--large-mib", 24);
const MiB = 1024 * 1024;
const BUCKET = "rtb-bench";
const CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
const say = (s) => process.stdout.write(`${s}\n`);
const seconds = (t0) => (performance.now() - t0) / 1000;

/** Deterministic bytes (xorshift32), so every run moves the same data. */
function fill(buf, seed) {
  let x = seed >>> 0 || 1;
  for (let i = 0; i + 4 <= buf.length; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf.writeUInt32LE(x, i);
  }
  return buf;
}

async function makeTree(root) {
  const files = [];
  for (let i = 0; i < SMALL; i++) {
    const dir = join(root, "small", `d${Math.floor(i / 100)}`);
    if (i % 100 === 0) await mkdir(dir, { recursive: true });
    const size = 1024 + ((i * 7919) % (15 * 1024));
    const path = join(dir, `f${i}.bin`);
    await writeFile(path, fill(Buffer.alloc(size), i + 1));
    files.push({ path, size });
  }
  await mkdir(join(root, "large"), { recursive: true });
  for (let i = 0; i < LARGE; i++) {
    const path = join(root, "large", `big${i}.bin`);
    await writeFile(path, fill(Buffer.alloc(LARGE_MIB * MiB), 100_000 + i));
    files.push({ path, size: LARGE_MIB * MiB });
  }
  return files;
}

function startS3rver(dir) {
  const runner = join(here, "..", "test", "helpers", "s3rver-runner.cjs");
  const child = spawn(process.execPath, ["--openssl-legacy-provider", runner, dir, BUCKET], { stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`s3rver did not start: ${err}`)), 20_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = /S3RVER_LISTENING (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.stdout.resume();
        resolve({ child, endpoint: `http://127.0.0.1:${m[1]}` });
      }
    });
    child.stderr.on("data", (d) => (err += d));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited ${code}: ${err}`));
    });
  });
}

async function stopProcess(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
}

/** Runs `fn` over items with `n` in flight. */
async function pool(items, n, fn) {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: n }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

async function sha(stream) {
  const h = createHash("sha256");
  let n = 0;
  for await (const c of stream) {
    h.update(c);
    n += c.length;
  }
  return [h.digest("hex"), n];
}

function rcloneAvailable() {
  if (spawnSync("rclone", ["version"], { stdio: "ignore" }).status === 0) return true;
  if (process.getuid?.() !== 0 || spawnSync("apt-get", ["--version"], { stdio: "ignore" }).status !== 0) return false;
  say("rclone missing: apt-get install -y rclone");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  let r = spawnSync("apt-get", ["install", "-y", "rclone"], { stdio: "ignore", env });
  if (r.status !== 0) {
    spawnSync("apt-get", ["update"], { stdio: "ignore", env });
    r = spawnSync("apt-get", ["install", "-y", "rclone"], { stdio: "ignore", env });
  }
  return r.status === 0 && spawnSync("rclone", ["version"], { stdio: "ignore" }).status === 0;
}

function rclone(endpoint, rcArgs) {
  const env = {
    ...process.env,
    RCLONE_CONFIG_BENCH_TYPE: "s3",
    RCLONE_CONFIG_BENCH_PROVIDER: "Other",
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    RCLONE_CONFIG_BENCH_ENDPOINT: endpoint,
    RCLONE_CONFIG_BENCH_REGION: "us-east-1",
    RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: "true",
  };
  // rclone fails TLS setup with this variable set here, even for a plain-http endpoint.
  delete env.AWS_CA_BUNDLE;
  const t0 = performance.now();
  const r = spawnSync(
    "rclone",
    [...rcArgs, "--fast-list", "--transfers", "8", "--checkers", "8", "--s3-upload-cutoff", "16M", "--s3-chunk-size", "16M", "--s3-upload-concurrency", "4"],
    {
      env,
      encoding: "utf8",
    },
  );
  if (r.status !== 0) throw new Error(`rclone ${rcArgs.join(" ")} exited ${r.status}: ${(r.stderr ?? "").slice(-1500)}`);
  return seconds(t0);
}

async function treeSum(root) {
  const out = new Map();
  async function visit(dir) {
    for (const name of await readdir(dir)) {
      const p = join(dir, name);
      if ((await stat(p)).isDirectory()) await visit(p);
      else
        out.set(
          relative(root, p),
          createHash("sha256")
            .update(await readFile(p))
            .digest("hex"),
        );
    }
  }
  await visit(root);
  return out;
}

function sameTree(a, b) {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
}

const dir = await mkdtemp(join(tmpdir(), "rtb-s3-bench-"));
let server;
const result = {};
try {
  const src = join(dir, "src");
  say(`generating ${SMALL} small files (1-16 KiB) and ${LARGE} × ${LARGE_MIB} MiB under ${src}`);
  const files = await makeTree(src);
  const smallFiles = files.filter((f) => f.size < MiB);
  const largeFiles = files.filter((f) => f.size >= MiB);
  const smallBytes = smallFiles.reduce((n, f) => n + f.size, 0);
  const largeBytes = largeFiles.reduce((n, f) => n + f.size, 0);
  server = await startS3rver(join(dir, "s3rver"));
  say(`s3rver at ${server.endpoint}`);

  // 1. S3Storage put/get.
  const storage = new S3Storage({ endpoint: server.endpoint, bucket: BUCKET, credentials: CREDENTIALS, prefix: "raw" });
  const keyOf = (f) => relative(src, f.path);
  let t0 = performance.now();
  await pool(smallFiles, 8, async (f) => storage.put(keyOf(f), await readFile(f.path), f.size));
  const putSmall = seconds(t0);
  t0 = performance.now();
  for (const f of largeFiles) await storage.put(keyOf(f), () => createReadStream(f.path, { highWaterMark: MiB }), f.size);
  const putLarge = seconds(t0);
  t0 = performance.now();
  await pool(smallFiles, 8, async (f) => {
    const [, n] = await sha(await storage.get(keyOf(f)));
    if (n !== f.size) throw new Error(`get ${keyOf(f)}: ${n} bytes, expected ${f.size}`);
  });
  const getSmall = seconds(t0);
  t0 = performance.now();
  for (const f of largeFiles) {
    const [digest] = await sha(await storage.get(keyOf(f)));
    const [want] = await sha(createReadStream(f.path));
    if (digest !== want) throw new Error(`get ${keyOf(f)}: content differs`);
  }
  const getLarge = seconds(t0);
  await storage.close();
  Object.assign(result, {
    s3storage_put_small_objects_per_s: smallFiles.length / putSmall,
    s3storage_put_large_MiB_per_s: largeBytes / MiB / putLarge,
    s3storage_get_small_objects_per_s: smallFiles.length / getSmall,
    s3storage_get_large_MiB_per_s: largeBytes / MiB / getLarge,
    s3storage_put_all_s: putSmall + putLarge,
    s3storage_get_all_s: getSmall + getLarge,
  });
  say(
    `S3Storage put: ${smallFiles.length} small in ${putSmall.toFixed(2)} s (${(smallFiles.length / putSmall).toFixed(0)}/s), ${(largeBytes / MiB).toFixed(0)} MiB large in ${putLarge.toFixed(2)} s (${(largeBytes / MiB / putLarge).toFixed(1)} MiB/s)`,
  );
  say(
    `S3Storage get: small in ${getSmall.toFixed(2)} s (${(smallFiles.length / getSmall).toFixed(0)}/s), large in ${getLarge.toFixed(2)} s (${(largeBytes / MiB / getLarge).toFixed(1)} MiB/s)`,
  );

  // 2. Engine initial backup and restore through S3StoragePlugin.
  const engine = new Engine({
    log: { sink: silentSink },
    parameters: {
      storage: "s3",
      s3Endpoint: server.endpoint,
      s3Bucket: BUCKET,
      s3AccessKeyId: CREDENTIALS.accessKeyId,
      s3SecretAccessKey: CREDENTIALS.secretAccessKey,
      repositoryPrefix: "repo",
      remoteFileStateCachePath: join(dir, "state"),
      backupRoots: [src],
      pathFilters: [],
      batchUploadConsolidationDelay: 1000,
    },
    plugins: [new S3StoragePlugin()],
  });
  t0 = performance.now();
  await engine.start();
  await engine.initialBackup();
  await engine.stop();
  const backup = seconds(t0);
  const reader = new S3Storage({ endpoint: server.endpoint, bucket: BUCKET, credentials: CREDENTIALS });
  t0 = performance.now();
  const repo = await openRepository(reader, { prefix: "repo" });
  const tree = await loadTree(repo);
  const restored = await new Restorer(tree.chunks, { restoreOwner: false }).restore(Restorer.select(tree.entries, ["/"], true).entries, join(dir, "out"));
  const restore = seconds(t0);
  await reader.close();
  if (restored.errors || restored.unsafe) throw new Error(`restore had errors: ${JSON.stringify(restored)}`);
  const srcSum = await treeSum(src);
  if (!sameTree(srcSum, await treeSum(join(dir, "out", src.slice(1))))) throw new Error("restored tree differs from the source");
  Object.assign(result, { engine_initial_backup_s: backup, engine_restore_s: restore });
  say(`engine: initial backup ${backup.toFixed(2)} s, restore ${restore.toFixed(2)} s (verified)`);

  // 3. rclone as the peer.
  if (rcloneAvailable()) {
    const up = rclone(server.endpoint, ["copy", src, `bench:${BUCKET}/rclone`]);
    const down = rclone(server.endpoint, ["copy", `bench:${BUCKET}/rclone`, join(dir, "rclone-out")]);
    if (!sameTree(srcSum, await treeSum(join(dir, "rclone-out")))) throw new Error("rclone's copy differs from the source");
    Object.assign(result, {
      rclone_copy_up_s: up,
      rclone_copy_down_s: down,
      s3storage_put_vs_rclone_up_ratio: (putSmall + putLarge) / up,
      engine_backup_vs_rclone_up_ratio: backup / up,
      s3storage_get_vs_rclone_down_ratio: (getSmall + getLarge) / down,
      engine_restore_vs_rclone_down_ratio: restore / down,
    });
    say(`rclone copy: up ${up.toFixed(2)} s, down ${down.toFixed(2)} s`);
    say(
      `ratios (time / rclone's, lower is faster): S3Storage put ${result.s3storage_put_vs_rclone_up_ratio.toFixed(2)}, ` +
        `engine backup ${result.engine_backup_vs_rclone_up_ratio.toFixed(2)}, S3Storage get ${result.s3storage_get_vs_rclone_down_ratio.toFixed(2)}, ` +
        `engine restore ${result.engine_restore_vs_rclone_down_ratio.toFixed(2)}`,
    );
  } else {
    say("rclone not available (not installed, and not root or no apt-get): peer skipped");
  }
  result.dataset_MiB = (smallBytes + largeBytes) / MiB;
} finally {
  if (server) await stopProcess(server.child);
  await rm(dir, { recursive: true, force: true });
}
say(`BENCH_RESULT ${JSON.stringify(Object.fromEntries(Object.entries(result).map(([k, v]) => [k, Math.round(v * 1000) / 1000])))}`);
