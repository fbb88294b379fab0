import { lstat } from "node:fs/promises";
import { resolve } from "node:path";
import { fsPath, messageOf } from "@rtbackup/core";

import { createEngine, loadCliConfig, type CommonOptions } from "../context.js";
import { Progress, formatBytes } from "../progress.js";
import { terminalText } from "../terminalText.js";

/** Options of `rtb backup`. */
export interface BackupOptions extends CommonOptions {
  json?: boolean;
  progress?: boolean;
}

/**
 * `rtb backup [roots...]`: the initial backup, then exit (DQD's /INITIALBACKUPTHENEXIT). Walks the roots (the
 * arguments, else BackupRoots from the config), uploads what is new or changed, commits, and exits 0 when every
 * file made it, 3 when some kept failing or some paths could not be read (they are listed; the next run retries
 * them, and nothing under an unreadable path is recorded as deleted), 2 when a root does not exist (before any
 * store is opened or created).
 */
export async function backupCommand(roots: string[], options: BackupOptions): Promise<number> {
  const config = await loadCliConfig(options);
  if (roots.length) {
    // Roots named here replace BackupRoots; the path filters treat them as `rtb run` treats BackupRoots (a default
    // exclusion such as /tmp or /var does not apply under a root; rules inside it, .git, .cache, ..., still do).
    config.parameters.backupRoots = roots.map((r) => resolve(r));
  }
  if (config.parameters.backupRoots.length === 0) {
    process.stderr.write("rtb backup: nothing to back up: give directories as arguments or set BackupRoots in the config\n");
    return 2;
  }
  const missing = await missingRoots(config.parameters.backupRoots);
  if (missing.length) {
    for (const m of missing) process.stderr.write(`rtb backup: ${m}\n`);
    process.stderr.write("rtb backup: nothing was backed up and no store was opened\n");
    return 2;
  }
  for (const w of config.warnings) process.stderr.write(`rtb: warning: ${w}\n`);
  const engine = createEngine(config);
  const runtime = await engine.start({ maxAttempts: 5 });
  const log = engine.getLogger("backup");
  log.info(
    `backing up ${config.parameters.backupRoots.join(", ")} to ${runtime.storage.description}${config.parameters.repositoryPrefix ? ` (prefix ${config.parameters.repositoryPrefix})` : ""}`,
  );
  const progress = new Progress(
    (elapsedMs) => {
      const stats = runtime.uploader.stats;
      const scanStatus = runtime.scanStatus;
      const remaining = runtime.pipeline.outstanding;
      const rate = stats.bytes / Math.max(elapsedMs / 1000, 0.001);
      // The work is counted once the scan has walked everything: what it queued, and the deletes it found.
      const total = scanStatus.running || !scanStatus.last ? undefined : scanStatus.queued + scanStatus.last.deleted;
      return {
        phase: total === undefined ? "scanning" : "uploading",
        counters: `${stats.files} files, ${formatBytes(stats.bytes)} read, ${formatBytes(stats.bytesUploaded)} uploaded, ${remaining} queued, ${formatBytes(rate)}/s`,
        ...(total === undefined ? {} : { done: Math.max(0, total - remaining), total }),
      };
    },
    { enabled: options.progress !== false && config.parameters.verbosity !== "Quiet" },
  );
  let scan;
  try {
    scan = await engine.initialBackup();
  } catch (err) {
    progress.done();
    await engine.stop({ drain: false }).catch(() => undefined);
    throw err;
  }
  progress.done();
  if (scan.seen === 0) log.warn(`nothing was backed up: ${config.parameters.backupRoots.join(", ")} is missing, empty or excluded by PathFilters`);
  const stats = runtime.uploader.stats;
  const gaveUp = [...runtime.gaveUp];
  await engine.stop();
  const summary = {
    walked: scan.seen,
    changed: scan.changed,
    deleted: scan.deleted,
    filesRead: stats.files,
    bytesRead: stats.bytes,
    bytesUploaded: stats.bytesUploaded,
    chunksUploaded: stats.chunksUploaded,
    failed: gaveUp.length,
    unreadable: scan.unreadable.length,
    seconds: scan.durationMs / 1000,
  };
  if (options.json) process.stdout.write(`${JSON.stringify({ event: "summary", ...summary, failures: gaveUp, unreadablePaths: scan.unreadable })}\n`);
  else {
    process.stderr.write(
      `backup done: ${scan.seen} paths, ${scan.changed} new or changed, ${scan.deleted} deleted; ${stats.files} files read (${formatBytes(stats.bytes)}), ${formatBytes(stats.bytesUploaded)} uploaded\n`,
    );
    for (const g of gaveUp) process.stderr.write(`FAILED ${terminalText(g.path)}: ${g.error} (after ${g.attempts} attempts)\n`);
    for (const u of scan.unreadable) process.stderr.write(`UNREADABLE ${terminalText(u.path)}: ${u.error} (its backed-up entries are kept)\n`);
  }
  if (scan.unreadable.length) {
    log.error(`${scan.unreadable.length} path(s) could not be read; nothing under them was recorded as deleted`);
    if (!gaveUp.length) return 3;
  }
  if (gaveUp.length) {
    log.error(
      `${gaveUp.length} file(s) could not be backed up: ${gaveUp
        .map((g) => g.path)
        .join(", ")
        .slice(0, 500)}`,
    );
    return 3;
  }
  return 0;
}

/** The roots that do not exist or cannot be stat'ed, each as a message naming it. */
async function missingRoots(roots: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const root of roots) {
    try {
      await lstat(fsPath(root));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push(code === "ENOENT" ? `${root} does not exist` : `cannot read ${root}: ${messageOf(err)}`);
    }
  }
  return problems;
}
