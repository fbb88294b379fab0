import type { Pipeline } from "./pipeline/Pipeline.js";
import type { ScanResult } from "./scan/ScanResult.js";
import type { StateCache } from "./state/StateCache.js";
import type { StorageBackend } from "./storage/StorageBackend.js";
import type { ScanInfo } from "./types.js";
import type { SourceHealth, SourceHealthBoard } from "./SourceHealth.js";

/** What the stats are read from (a runtime). */
export interface StatsSource {
  readonly storage: StorageBackend;
  readonly cache: StateCache;
  readonly pipeline: Pipeline;
  readonly sourceHealth: SourceHealthBoard;
  readonly gaveUp: readonly unknown[];
}

/** The stats object of a running agent (`runtime.stats()`). */
export interface AgentStats {
  time: string;
  storage: string;
  paused: boolean;
  queues: { intake: number; bufferedWhilePaused: number; openFiles: number; longPolling: number; actions: number; uploading: number; pendingCommit: number };
  snapshots: number;
  uploads: { path: string; size: number; bytesDone: number; bytesPerSecond: number }[];
  totals: {
    events: number;
    filesUploaded: number;
    bytesRead: number;
    bytesUploaded: number;
    chunksUploaded: number;
    unchanged: number;
    moves: number;
    deletes: number;
    /** FIFOs, sockets and devices met and not backed up (each time met), in all and by kind. */
    skipped: number;
    skippedByKind: Record<string, number>;
    batchesCommitted: number;
    recordsCommitted: number;
  };
  errors: {
    count: number;
    sourcesNotWatching: number;
    snapshotFailures: number;
    uploadFailures: number;
    gaveUp: number;
    last: string | undefined;
    lastAt: string | undefined;
  };
  rescan: { running: boolean; reason: ScanInfo["reason"] | undefined; walked: number; queued: number; last: ScanResult | undefined };
  /** `lastSequence`: the last index batch the cache applied (format v2: this agent's own lane's). */
  stateCache: { paths: number; lastSequence: number };
  /** Health of every change source (watching / degraded / stopped, events lost, last error). */
  sources: SourceHealth[];
}

/** Builds the stats object of a runtime. */
export function agentStats(rt: StatsSource, options: { includeUploads?: boolean } = {}): AgentStats {
  const now = Date.now();
  const scan = rt.pipeline.scanner.status;
  const sources = rt.sourceHealth.list();
  return {
    time: new Date(now).toISOString(),
    storage: rt.storage.description,
    paused: rt.pipeline.paused,
    queues: queuesOf(rt.pipeline),
    snapshots: rt.pipeline.activeSnapshots,
    uploads: options.includeUploads === false ? [] : uploadsOf(rt.pipeline, now),
    totals: totalsOf(rt.pipeline),
    errors: errorsOf(rt, sources),
    rescan: { running: scan.running, reason: scan.reason, walked: scan.walked, queued: scan.queued, last: scan.last },
    stateCache: { paths: rt.cache.size, lastSequence: rt.cache.lane ? (rt.cache.lane.last?.seq ?? -1) : rt.cache.lastSequence },
    sources,
  };
}

/** What waits where: every outstanding path is in exactly one of intake, openFiles, longPolling, actions, uploading. */
function queuesOf(pipeline: Pipeline): AgentStats["queues"] {
  const { stability, queue, committer } = pipeline;
  return {
    intake: pipeline.outstanding - stability.waiting - stability.longPolling - queue.size - queue.running,
    bufferedWhilePaused: pipeline.bufferedCount,
    openFiles: stability.waiting,
    longPolling: stability.longPolling,
    actions: queue.size,
    uploading: queue.running,
    pendingCommit: committer.pendingCount,
  };
}

/** The uploads in progress, with their rate so far. */
function uploadsOf(pipeline: Pipeline, now: number): AgentStats["uploads"] {
  return [...pipeline.uploader.inProgress.values()].map((p) => {
    const secs = Math.max((now - p.startedAt) / 1000, 0.001);
    return { path: p.path, size: p.size, bytesDone: p.bytesDone, bytesPerSecond: Math.round(p.bytesDone / secs) };
  });
}

/** Counters since the start. */
function totalsOf(pipeline: Pipeline): AgentStats["totals"] {
  const u = pipeline.uploader.stats;
  const { committer } = pipeline;
  return {
    events: pipeline.stats.events,
    filesUploaded: u.files,
    bytesRead: u.bytes,
    bytesUploaded: u.bytesUploaded,
    chunksUploaded: u.chunksUploaded,
    unchanged: u.unchanged,
    moves: u.moves,
    deletes: u.deletes,
    skipped: u.skipped,
    skippedByKind: { ...pipeline.uploader.skippedByKind },
    batchesCommitted: committer.stats.batches,
    recordsCommitted: committer.stats.records,
  };
}

/** Failures so far (each retried, none dropped) and the last one. */
function errorsOf(rt: StatsSource, sources: readonly SourceHealth[]): AgentStats["errors"] {
  const pl = rt.pipeline.stats;
  const { queue, committer } = rt.pipeline;
  const sourcesNotWatching = sources.filter((s) => s.state !== "watching").length;
  return {
    count: pl.snapshotFailures + pl.uploadFailures + queue.stats.failed + committer.stats.retries + sourcesNotWatching,
    sourcesNotWatching,
    snapshotFailures: pl.snapshotFailures,
    uploadFailures: pl.uploadFailures,
    gaveUp: rt.gaveUp.length,
    last: pl.lastError || undefined,
    lastAt: pl.lastErrorAt ? new Date(pl.lastErrorAt).toISOString() : undefined,
  };
}
