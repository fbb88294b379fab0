// Runs one backup or restore in this process and prints a JSON line with its time and peak RSS.
// Usage: node core-child.mjs backup <src> <store> <state> | restore <store> <out>
import { Engine, LocalDirectoryStorage, Repository, Restorer, loadTree, silentSink } from "@rtbackup/core";

const [mode, a, b, c] = process.argv.slice(2);
const started = performance.now();
let extra = {};
if (mode === "backup") {
  const engine = new Engine({
    parameters: { storage: "local", localStoragePath: b, remoteFileStateCachePath: c, backupRoots: [a], pathFilters: [], batchUploadConsolidationDelay: 1000 },
    log: { sink: silentSink },
  });
  const runtime = await engine.start();
  const scan = await engine.initialBackup();
  extra = { files: runtime.uploader.stats.files, bytes: runtime.uploader.stats.bytes, changed: scan.changed };
  await engine.stop();
} else if (mode === "restore") {
  const repo = await Repository.open(new LocalDirectoryStorage({ path: a }));
  const tree = await loadTree(repo);
  const result = await new Restorer(repo).restore(Restorer.select(tree.entries, ["/"], true).entries, b);
  if (result.errors || result.unsafe) throw new Error(`restore had errors: ${JSON.stringify(result)}`);
  extra = { restored: result.restored, bytes: result.bytes };
} else throw new Error(`unknown mode ${mode}`);
const seconds = (performance.now() - started) / 1000;
process.stdout.write(`${JSON.stringify({ seconds, maxRssMiB: process.resourceUsage().maxRSS / 1024, ...extra })}\n`);
