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
  stateCache: { paths: number; lastSequence: number };
  /** Health of every change source (watching / degraded / stopped, events lost, last error). */
  sources: SourceHealth[];
}

/** Builds the stats object of a runtime. */
export function agentStats(rt: StatsSource, options: { includeUploads?: boolean } = {}): AgentStats {
  const now = Date.now();
  const { uploader, committer, queue, scanner, stability } = rt.pipeline;
  const u = uploader.stats;
  const pl = rt.pipeline.stats;
  const scan = scanner.status;
  const sources = rt.sourceHealth.list();
  const sourcesNotWatching = sources.filter((s) => s.state !== "watching").length;
  return {
    time: new Date(now).toISOString(),
    storage: rt.storage.description,
    paused: rt.pipeline.paused,
    queues: {
      intake: rt.pipeline.outstanding - stability.waiting - stability.longPolling - queue.size - queue.running,
      bufferedWhilePaused: rt.pipeline.bufferedCount,
      openFiles: stability.waiting,
      longPolling: stability.longPolling,
      actions: queue.size,
      uploading: queue.running,
      pendingCommit: committer.pendingCount,
    },
    snapshots: rt.pipeline.activeSnapshots,
    uploads:
      options.includeUploads === false
        ? []
        : [...uploader.inProgress.values()].map((p) => {
            const secs = Math.max((now - p.startedAt) / 1000, 0.001);
            return { path: p.path, size: p.size, bytesDone: p.bytesDone, bytesPerSecond: Math.round(p.bytesDone / secs) };
          }),
    totals: {
      events: pl.events,
      filesUploaded: u.files,
      bytesRead: u.bytes,
      bytesUploaded: u.bytesUploaded,
      chunksUploaded: u.chunksUploaded,
      unchanged: u.unchanged,
      moves: u.moves,
      deletes: u.deletes,
      batchesCommitted: committer.stats.batches,
      recordsCommitted: committer.stats.records,
    },
    errors: {
      count: pl.snapshotFailures + pl.uploadFailures + queue.stats.failed + committer.stats.retries + sourcesNotWatching,
      sourcesNotWatching,
      snapshotFailures: pl.snapshotFailures,
      uploadFailures: pl.uploadFailures,
      gaveUp: rt.gaveUp.length,
      last: pl.lastError || undefined,
      lastAt: pl.lastErrorAt ? new Date(pl.lastErrorAt).toISOString() : undefined,
    },
    rescan: {
      running: scan.running,
      reason: scan.reason,
      walked: scan.walked,
      queued: scan.queued,
      last: scan.last,
    },
    stateCache: { paths: rt.cache.size, lastSequence: rt.cache.lastSequence },
    sources,
  };
}
