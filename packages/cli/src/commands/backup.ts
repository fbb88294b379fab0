import { lstat } from "node:fs/promises";
import { fsPath, messageOf, specialKindName, type AgentStats, type GaveUp, type ScanResult } from "@rtbackup/core";

import { createEngine, loadCliConfig, type CommonOptions, type LoadedConfig } from "../context.js";
import { Progress, formatBytes, type ProgressSnapshot } from "../progress.js";
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
  const config = await loadCliConfig(options, "backup", roots);
  const refused = await refusedRoots(config);
  if (refused) return refused;
  for (const w of config.warnings) process.stderr.write(`rtb: warning: ${w}\n`);
  const engine = createEngine(config);
  const runtime = await engine.start({ maxAttempts: 5 });
  const log = engine.getLogger("backup");
  const { backupRoots, repositoryPrefix } = config.parameters;
  log.info(`backing up ${backupRoots.join(", ")} to ${runtime.storage.description}${repositoryPrefix ? ` (prefix ${repositoryPrefix})` : ""}`);
  const progress = new Progress((elapsedMs) => progressLine(runtime.stats({ includeUploads: false }), elapsedMs), {
    enabled: options.progress !== false && config.parameters.verbosity !== "Quiet",
  });
  let scan;
  try {
    scan = await engine.initialBackup();
  } catch (err) {
    progress.done();
    await engine.stop({ drain: false }).catch(() => undefined);
    throw err;
  }
  progress.done();
  if (scan.seen === 0) log.warn(`nothing was backed up: ${backupRoots.join(", ")} is missing, empty or excluded by PathFilters`);
  const { totals } = runtime.stats({ includeUploads: false });
  const gaveUp = [...runtime.gaveUp];
  await engine.stop();
  report(scan, totals, gaveUp, Boolean(options.json));
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

/**
 * Refuses to start without roots or with a root that does not exist: the exit status then (2), before any store is
 * opened or created; else undefined. Roots named on the command line replaced BackupRoots when the config was
 * loaded; the path filters treat them as `rtb run` treats BackupRoots (a default exclusion such as /tmp or /var does
 * not apply under a root; rules inside it, .git, .cache, ..., still do).
 */
async function refusedRoots(config: LoadedConfig): Promise<number | undefined> {
  if (config.parameters.backupRoots.length === 0) {
    process.stderr.write("rtb backup: nothing to back up: give directories as arguments or set BackupRoots in the config\n");
    return 2;
  }
  const missing = await missingRoots(config.parameters.backupRoots);
  if (!missing.length) return undefined;
  for (const m of missing) process.stderr.write(`rtb backup: ${m}\n`);
  process.stderr.write("rtb backup: nothing was backed up and no store was opened\n");
  return 2;
}

/** The progress line: scanning until the walk is done, then uploading with done/total (what it queued plus deletes). */
function progressLine(stats: AgentStats, elapsedMs: number): ProgressSnapshot {
  const { totals, rescan, queues } = stats;
  const remaining = queues.intake + queues.openFiles + queues.longPolling + queues.actions + queues.uploading;
  const rate = totals.bytesRead / Math.max(elapsedMs / 1000, 0.001);
  const total = rescan.running || !rescan.last ? undefined : rescan.queued + rescan.last.deleted;
  return {
    phase: total === undefined ? "scanning" : "uploading",
    counters: `${totals.filesUploaded} files, ${formatBytes(totals.bytesRead)} read, ${formatBytes(totals.bytesUploaded)} uploaded, ${remaining} queued, ${formatBytes(rate)}/s`,
    ...(total === undefined ? {} : { done: Math.max(0, total - remaining), total }),
  };
}

/** The summary: one JSON line with `--json`, else lines on stderr naming every failed and unreadable path. */
function report(scan: ScanResult, totals: AgentStats["totals"], gaveUp: readonly GaveUp[], json: boolean): void {
  if (json) {
    const summary = {
      walked: scan.seen,
      excludedDirectories: scan.excludedDirectories,
      changed: scan.changed,
      deleted: scan.deleted,
      filesRead: totals.filesUploaded,
      bytesRead: totals.bytesRead,
      bytesUploaded: totals.bytesUploaded,
      chunksUploaded: totals.chunksUploaded,
      failed: gaveUp.length,
      unreadable: scan.unreadable.length,
      skipped: totals.skipped,
      skippedByKind: totals.skippedByKind,
      seconds: scan.durationMs / 1000,
    };
    process.stdout.write(`${JSON.stringify({ event: "summary", ...summary, failures: gaveUp, unreadablePaths: scan.unreadable })}\n`);
    return;
  }
  process.stderr.write(
    `backup done: ${scan.seen} paths, ${scan.changed} new or changed, ${scan.deleted} deleted; ${totals.filesUploaded} files read (${formatBytes(totals.bytesRead)}), ${formatBytes(totals.bytesUploaded)} uploaded\n`,
  );
  if (totals.skipped > 0) {
    const kinds = Object.entries(totals.skippedByKind)
      .filter(([, n]) => n > 0)
      .map(([kind, n]) => `${n} ${specialKindName(kind)}${n > 1 ? "s" : ""}`);
    process.stderr.write(
      `NOT BACKED UP: ${totals.skipped} special file${totals.skipped > 1 ? "s" : ""} (${kinds.join(", ")}); a socket is made again by the server that binds it, and a format 1 repository keeps no FIFOs or devices\n`,
    );
  }
  for (const g of gaveUp) process.stderr.write(`FAILED ${terminalText(g.path)}: ${g.error} (after ${g.attempts} attempts)\n`);
  for (const u of scan.unreadable) process.stderr.write(`UNREADABLE ${terminalText(u.path)}: ${u.error} (its backed-up entries are kept)\n`);
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
