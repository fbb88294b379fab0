import type { Runtime, ScanResult } from "./Runtime.js";
import type { ScanInfo } from "../types.js";
import type { SourceHealth } from "../SourceHealth.js";

/** The stats object of a running agent (see {@link Runtime.stats}). */
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

/** Builds the stats object of a runtime (see {@link Runtime.stats}). */
export function agentStats(rt: Runtime, options: { includeUploads?: boolean } = {}): AgentStats {
  const now = Date.now();
  const u = rt.uploader.stats;
  const pl = rt.pipeline.stats;
  const sources = rt.engine.sourceHealth.list();
  const sourcesNotWatching = sources.filter((s) => s.state !== "watching").length;
  return {
    time: new Date(now).toISOString(),
    storage: rt.storage.description,
    paused: rt.pipeline.paused,
    queues: {
      intake: rt.pipeline.outstanding - rt.pipeline.stability.waiting - rt.pipeline.stability.longPolling - rt.queue.size - rt.queue.running,
      bufferedWhilePaused: rt.pipeline.bufferedCount,
      openFiles: rt.pipeline.stability.waiting,
      longPolling: rt.pipeline.stability.longPolling,
      actions: rt.queue.size,
      uploading: rt.queue.running,
      pendingCommit: rt.committer.pendingCount,
    },
    snapshots: rt.pipeline.activeSnapshots,
    uploads:
      options.includeUploads === false
        ? []
        : [...rt.uploader.inProgress.values()].map((p) => {
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
      batchesCommitted: rt.committer.stats.batches,
      recordsCommitted: rt.committer.stats.records,
    },
    errors: {
      count: pl.snapshotFailures + pl.uploadFailures + rt.queue.stats.failed + rt.committer.stats.retries + sourcesNotWatching,
      sourcesNotWatching,
      snapshotFailures: pl.snapshotFailures,
      uploadFailures: pl.uploadFailures,
      gaveUp: rt.gaveUp.length,
      last: pl.lastError || undefined,
      lastAt: pl.lastErrorAt ? new Date(pl.lastErrorAt).toISOString() : undefined,
    },
    rescan: {
      running: rt.scanStatus.running,
      reason: rt.scanStatus.reason,
      walked: rt.scanStatus.walked,
      queued: rt.scanStatus.queued,
      last: rt.scanStatus.last,
    },
    stateCache: { paths: rt.cache.size, lastSequence: rt.cache.lastSequence },
    sources,
  };
}
