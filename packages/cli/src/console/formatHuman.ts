import type { AgentStats, BridgeNotification, BridgeScanStatus, ScanResult } from "@rtbackup/core";

function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

function table(rows: [string, string | number][], indent = "  "): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${indent}${k.padEnd(width)}  ${v}`).join("\n");
}

function lastScan(last: ScanResult | undefined): string {
  if (!last) return "none yet";
  return `${last.reason}: ${last.seen} paths, ${last.changed} changed, ${last.deleted} deleted in ${(last.durationMs / 1000).toFixed(1)} s`;
}

function monitoring(s: AgentStats): string {
  if (s.sources.some((src) => src.state === "stopped")) return "MONITORING STOPPED";
  if (s.sources.some((src) => src.state === "degraded")) return "monitoring DEGRADED";
  return "monitoring";
}

/** The stats of a daemon as a human-readable table. */
export function formatStats(s: AgentStats, withUploads: boolean): string {
  const lines = [
    `rtb daemon at ${s.time}  ${s.paused ? "MONITORING PAUSED" : monitoring(s)}  storage: ${s.storage}`,
    "Queues",
    table([
      ["intake", s.queues.intake],
      ["buffered while paused", s.queues.bufferedWhilePaused],
      ["waiting for writers", s.queues.openFiles],
      ["long polling", s.queues.longPolling],
      ["actions", s.queues.actions],
      ["uploading", s.queues.uploading],
      ["pending commit", s.queues.pendingCommit],
      ["snapshots", s.snapshots],
    ]),
    "Totals",
    table([
      ["events", s.totals.events],
      ["files uploaded", s.totals.filesUploaded],
      ["bytes read", bytes(s.totals.bytesRead)],
      ["bytes uploaded", bytes(s.totals.bytesUploaded)],
      ["unchanged", s.totals.unchanged],
      ["moves", s.totals.moves],
      ["deletes", s.totals.deletes],
      ["special files not backed up", s.totals.skipped ?? 0],
      ["batches committed", s.totals.batchesCommitted],
      ["state cache paths", s.stateCache.paths],
    ]),
    "Errors",
    table([
      ["count", s.errors.count],
      ["sources not watching", s.errors.sourcesNotWatching],
      ["gave up", s.errors.gaveUp],
      ["last", s.errors.last ? `${s.errors.lastAt ?? ""} ${s.errors.last}` : "none"],
    ]),
    "Sources",
    s.sources.length === 0
      ? "  none reporting"
      : table(
          s.sources.map((src) => [
            src.name,
            `${src.state.toUpperCase()} since ${src.since}, ${src.eventsLost} events lost` +
              (src.lastError ? `, last error ${src.lastErrorAt ?? ""} ${src.lastError}` : "") +
              (src.detail ? ` (${src.detail})` : ""),
          ]),
        ),
    `Rescan: ${s.rescan.running ? `running (${s.rescan.reason}): ${s.rescan.walked} walked, ${s.rescan.queued} queued` : "idle"}; last ${lastScan(s.rescan.last)}`,
  ];
  if (withUploads) {
    lines.push(`Uploads in progress: ${s.uploads.length}`);
    for (const u of s.uploads) lines.push(`  ${u.path}  ${bytes(u.bytesDone)} of ${bytes(u.size)}  ${bytes(u.bytesPerSecond)}/s`);
  }
  return lines.join("\n");
}

/** A scan status as one line. */
export function formatScanStatus(s: BridgeScanStatus): string {
  if (s.running) return `rescan #${s.number} running (${s.reason}) since ${s.startedAt ?? "?"}: ${s.walked} walked, ${s.queued} queued`;
  return `no rescan running (${s.number} since start); last ${lastScan(s.last)}`;
}

/** A notification as one line. */
export function formatNotification(n: BridgeNotification): string {
  const head = `${n.time} #${n.seq}`;
  switch (n.kind) {
    case "uploadStarted":
      return `${head} upload started   ${n.path} (${bytes(n.size)})`;
    case "uploaded":
      return `${head} uploaded         ${n.path} (${bytes(n.size)}, ${bytes(n.bytesUploaded ?? 0)} sent)`;
    case "failure":
      return `${head} FAILED (${n.stage}, attempt ${n.attempts}) ${n.path}: ${n.message}${n.retryAt ? `; retry at ${n.retryAt}` : ""}`;
    case "scanStarted":
      return `${head} rescan #${n.number} started (${n.reason}): ${n.roots.join(", ")}`;
    case "scanFinished":
      return `${head} rescan #${n.number} finished (${n.reason}): ${n.changed ?? 0} changed`;
    case "paused":
      return `${head} monitoring paused`;
    case "unpaused":
      return `${head} monitoring unpaused: ${n.processed} buffered paths processed, ${n.discarded} discarded`;
  }
}
