// One backup or restore through the engine in this process; prints a JSON line with its times and peak RSS.
// Usage: node core-child.mjs backup <storage-json> <src> <state> | daemon <storage-json> <src> <state> [idle-seconds]
//        | restore <storage-json> <out> | count <storage-json>
//        (restore: streamed from a scratch tree on disk, as rtb restore does; restore-map: from the tree as a Map;
//        count: the files in the committed tree of a local store)
// <storage-json>: {"kind":"local","path":...} | {"kind":"s3","endpoint":...,"bucket":...,"prefix":...}
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { Engine, LocalDirectoryStorage, Restorer, isV2, loadTree, openRepository, selectFromSpill, silentSink, spillTreeV2 } from "@rtbackup/core";
import { sampleRss } from "./lib.mjs";

const S3_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
const [mode, storageJson, a, b] = process.argv.slice(2);
const storage = JSON.parse(storageJson);
// Loaded only when used, as the CLI loads its plugins: a local run does not pay for the S3 client's modules.
const s3 = storage.kind === "s3" ? await import("@rtbackup/plugin-s3") : undefined;
const started = performance.now();
let extra = {};
// RTB_BENCH_SAMPLE_RSS=1: peaks of anonymous and file-backed memory apart (a sampling thread, which adds its own few MiB).
const sampler = process.env.RTB_BENCH_SAMPLE_RSS === "1" ? await sampleRss() : undefined;

function storageParameters() {
  if (storage.kind === "local") return { parameters: { storage: "local", localStoragePath: storage.path }, plugins: [] };
  return {
    parameters: {
      storage: "s3",
      s3Endpoint: storage.endpoint,
      s3Bucket: storage.bucket,
      s3AccessKeyId: S3_CREDENTIALS.accessKeyId,
      s3SecretAccessKey: S3_CREDENTIALS.secretAccessKey,
      repositoryPrefix: storage.prefix,
    },
    plugins: [new s3.S3StoragePlugin()],
  };
}

if (mode === "backup") {
  const { parameters, plugins } = storageParameters();
  const engine = new Engine({
    parameters: {
      ...parameters,
      remoteFileStateCachePath: b,
      stagingDirectory: join(b, "staging"),
      backupRoots: [a],
      pathFilters: [],
      batchUploadConsolidationDelay: 1000,
      ...(process.env.RTB_BENCH_CHECKPOINT_EVERY ? { checkpointEvery: Number(process.env.RTB_BENCH_CHECKPOINT_EVERY) } : {}),
    },
    plugins,
    log: { sink: silentSink },
  });
  const runtime = await engine.start();
  const startedMs = performance.now() - started;
  // RTB_BENCH_KILL_AT=N: SIGKILL this process once N records are committed, from a timer (not at a commit boundary).
  const killAt = Number(process.env.RTB_BENCH_KILL_AT ?? 0);
  const killNow = () => {
    // The memory peaks so far go out first: the kill leaves no other report.
    process.stdout.write(`${JSON.stringify({ killedAtRecords: runtime.stats({ includeUploads: false }).totals.recordsCommitted, ...sampler?.stop() })}\n`, () =>
      process.kill(process.pid, "SIGKILL"),
    );
  };
  if (killAt > 0) {
    const timer = setInterval(() => {
      if (runtime.stats({ includeUploads: false }).totals.recordsCommitted < killAt) return;
      clearInterval(timer);
      killNow();
    }, 7);
  }
  const scan = await engine.initialBackup();
  extra = {
    startMs: startedMs,
    scanMs: scan.durationMs,
    seen: scan.seen,
    changed: scan.changed,
    files: runtime.stats({ includeUploads: false }).totals.filesUploaded,
    bytes: runtime.stats({ includeUploads: false }).totals.bytesRead,
  };
  await engine.stop();
} else if (mode === "daemon") {
  // As `rtb run` runs: the fanotify source on the tree's mount and the procfs writer check, a catch-up scan at
  // start, then idle. Anonymous memory is read at the end of the catch-up and after `idleSeconds` of idle (the figure
  // a daemon that runs for months holds); the sampler gives the peak over both.
  const { FanotifySourcePlugin } = await import("@rtbackup/plugin-fanotify");
  const { ProcfsStabilityPlugin } = await import("@rtbackup/plugin-open-files");
  const { execFileSync } = await import("node:child_process");
  const mount = execFileSync("findmnt", ["-n", "-o", "TARGET", "-T", a], { encoding: "utf8" }).trim();
  const idleSeconds = Number(process.argv[6] ?? 30);
  const { parameters } = storageParameters();
  const engine = new Engine({
    parameters: { ...parameters, remoteFileStateCachePath: b, stagingDirectory: join(b, "staging"), backupRoots: [a], pathFilters: [] },
    plugins: [new FanotifySourcePlugin({ mountPoints: [mount] }), new ProcfsStabilityPlugin()],
    log: { sink: silentSink },
  });
  const runtime = await engine.start();
  runtime.startPeriodicScans();
  await runtime.scansIdle();
  const caughtUp = runtime.scanStatus.last;
  const anonNow = async () => Math.round(Number(/RssAnon:\s+(\d+)/.exec(await readFile("/proc/self/status", "utf8"))[1]) / 1024);
  const afterCatchUp = await anonNow();
  await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
  extra = {
    seen: caughtUp.seen,
    changed: caughtUp.changed,
    catchUpMs: caughtUp.durationMs,
    afterCatchUpAnonMiB: afterCatchUp,
    idleAnonMiB: await anonNow(),
    idleSeconds,
  };
  await engine.stop();
} else if (mode === "restore" || mode === "restore-map") {
  const backend =
    storage.kind === "local"
      ? new LocalDirectoryStorage({ path: storage.path })
      : new s3.S3Storage({ endpoint: storage.endpoint, bucket: storage.bucket, credentials: S3_CREDENTIALS });
  const repo = await openRepository(backend, storage.prefix ? { prefix: storage.prefix } : {});
  let result;
  if (mode === "restore" && isV2(repo)) {
    // As `rtb restore` does it: the tree merged into a scratch tree on disk, the selection streamed from it.
    const tree = await spillTreeV2(repo, [tmpdir()]);
    try {
      result = await new Restorer(tree.chunks, { restoreOwner: false }).restoreFrom(selectFromSpill(tree.spill, ["/"], true).source, a);
    } finally {
      await tree.close();
    }
  } else {
    // restore-map: the whole tree as a Map, the selection as one array (how every restore ran before).
    const tree = await loadTree(repo);
    result = await new Restorer(tree.chunks, { restoreOwner: false }).restore(Restorer.select(tree.entries, ["/"], true).entries, a);
  }
  await backend.close?.();
  if (result.errors || result.unsafe) throw new Error(`restore had errors: ${JSON.stringify(result)}`);
  extra = { restored: result.restored, bytes: result.bytes };
} else if (mode === "count") {
  const repo = await openRepository(new LocalDirectoryStorage({ path: storage.path }));
  extra = { files: [...(await loadTree(repo)).entries.values()].filter((e) => e.type === "file").length };
} else throw new Error(`unknown mode ${mode}`);
if (sampler) extra = { ...extra, ...sampler.stop() };
const seconds = (performance.now() - started) / 1000;
process.stdout.write(`${JSON.stringify({ seconds, maxRssMiB: process.resourceUsage().maxRSS / 1024, ...extra })}\n`);
