// B2 transactions per 1,000 files: the engine backs a tree up into the B2 emulator (@rtbackup/plugin-b2/emulator,
// which counts every call by billing class), then a full restore reads it back from the bucket alone.
// Usage: node b2-child.mjs <src> <work-dir> <files in the tree>; prints one JSON line.
import { join } from "node:path";
import { Engine, Restorer, loadTree, openRepository, silentSink } from "@rtbackup/core";
import { B2Storage, B2StoragePlugin } from "@rtbackup/plugin-b2";
import { B2Emulator } from "@rtbackup/plugin-b2/emulator";

const [src, dir, countArg] = process.argv.slice(2);
const emulator = new B2Emulator({});
await emulator.start();
const access = { keyId: emulator.credentials.keyId, applicationKey: emulator.credentials.applicationKey, bucketId: emulator.bucketId };
const per1000 = (counts, n) => Object.fromEntries(["A", "B", "C"].map((c) => [c, (counts.billed[c] * 1000) / n]));
try {
  const engine = new Engine({
    parameters: {
      storage: "b2",
      remoteStorageKeyID: access.keyId,
      remoteStorageApplicationKey: access.applicationKey,
      remoteStorageBucketID: access.bucketId,
      remoteFileStateCachePath: join(dir, "state"),
      stagingDirectory: join(dir, "staging"),
      backupRoots: [src],
      pathFilters: [],
      batchUploadConsolidationDelay: 1000,
    },
    log: { sink: silentSink },
    plugins: [new B2StoragePlugin({ authorizeUrl: emulator.authorizeUrl, owner: "bench" })],
  });
  let since = emulator.lastSeq;
  const runtime = await engine.start();
  await engine.initialBackup();
  const uploads = runtime.stats({ includeUploads: false }).totals.filesUploaded;
  const files = Number(countArg);
  await engine.stop();
  const backup = emulator.counts(since);
  since = emulator.lastSeq;
  const reader = new B2Storage({ ...access, authorizeUrl: emulator.authorizeUrl, owner: "bench-restore" });
  const repo = await openRepository(reader);
  const tree = await loadTree(repo);
  const result = await new Restorer(tree.chunks, { restoreOwner: false }).restore(Restorer.select(tree.entries, ["/"], true).entries, join(dir, "out"));
  await reader.close();
  if (result.errors || result.unsafe) throw new Error(`restore had errors: ${JSON.stringify(result)}`);
  const restore = emulator.counts(since);
  const objects = emulator.files().length;
  process.stdout.write(
    `${JSON.stringify({ files, uploads, objects, backupPer1000: per1000(backup, files), restorePer1000: per1000(restore, files), backupByApi: backup.byApi, restoreByApi: restore.byApi })}\n`,
  );
} finally {
  await emulator.stop();
}
