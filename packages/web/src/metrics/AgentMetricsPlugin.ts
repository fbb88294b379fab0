import type { BackupPlugin, ChangeEvent, CommitInfo, Engine, FailureInfo, IndexRecord, UploadInfo } from "@rtbackup/core";
import { failureReason } from "./failureReason.js";
import type { Instruments } from "./instruments.js";
import { LatencyTracker } from "./LatencyTracker.js";
import { meterStorage } from "./meterStorage.js";

const PLUGIN_NAME = "AgentMetricsPlugin";

// The metered wrapper sits right around the chosen backend, inside other wrappers (a mirror): it counts the calls
// that reach the store that bills them.
const WRAP_STAGE = -1000;

/** Limits and clock of the latency tracking of {@link AgentMetricsPlugin}. */
export interface LatencyTracking {
  /** Paths tracked at once per histogram. */
  readonly maxPaths: number;
  /** A path in flight longer than this is dropped. */
  readonly maxAgeMs: number;
  /** Monotonic milliseconds. */
  readonly now: () => number;
}

/**
 * The observing half of {@link AgentMetrics}: taps the pipeline's observer hooks (`event`, `action`,
 * `uploadStarted`, `uploaded`, `commit`, `failure`, `scan`) and `wrapStorage`, and moves the counters and
 * histograms. It never changes what the pipeline does; its taps cannot throw.
 */
export class AgentMetricsPlugin implements BackupPlugin {
  readonly name = PLUGIN_NAME;
  readonly #m: Instruments;
  /** Change event → commit, per path. */
  readonly changes: LatencyTracker;
  /** Upload start → content stored, per path. */
  readonly uploads: LatencyTracker;

  constructor(instruments: Instruments, tracking: LatencyTracking) {
    this.#m = instruments;
    const dropped = instruments.pipeline.trackingDropped;
    const tracker = (histogram: string, keep: "first" | "latest") =>
      new LatencyTracker({ ...tracking, keep, onDrop: (reason) => dropped.inc({ histogram, reason }) });
    this.changes = tracker("close_to_commit", "first");
    this.uploads = tracker("upload", "latest");
  }

  apply(engine: Engine): void {
    const { hooks } = engine;
    const m = this.#m.pipeline;
    hooks.wrapStorage.tap({ name: PLUGIN_NAME, stage: WRAP_STAGE }, (backend) => meterStorage(backend, this.#m.storage));
    hooks.event.tap(PLUGIN_NAME, (event) => this.#event(event));
    hooks.action.tap(PLUGIN_NAME, (action) => m.filesQueued.inc({ action: action.type }));
    hooks.uploadStarted.tap(PLUGIN_NAME, (upload) => this.uploads.start(upload.path));
    hooks.uploaded.tap(PLUGIN_NAME, (upload) => this.#uploaded(upload));
    hooks.commit.tap(PLUGIN_NAME, (commit) => this.#commit(commit));
    hooks.failure.tap(PLUGIN_NAME, (failure) => this.#failure(failure));
    hooks.scan.tap(PLUGIN_NAME, (scan) => (scan.done ? m.scansFinished : m.scansStarted).inc({ reason: scan.reason }));
  }

  #event(event: ChangeEvent): void {
    this.#m.pipeline.events.inc({ type: event.type });
    // A rescan names a subtree, not a file: what it finds is not timed.
    if (event.type === "move") this.changes.start(event.to);
    else if (event.type !== "rescan") this.changes.start(event.path);
  }

  #uploaded(upload: UploadInfo): void {
    const m = this.#m.pipeline;
    m.filesUploaded.inc();
    m.readBytes.inc(upload.size);
    m.uploadedBytes.inc(upload.bytesUploaded ?? 0);
    const seconds = this.uploads.stop(upload.path);
    if (seconds !== undefined) m.uploadDuration.observe(seconds);
  }

  #commit(commit: CommitInfo): void {
    const m = this.#m.pipeline;
    m.batchesCommitted.inc();
    for (const record of commit.records) {
      m.recordsCommitted.inc({ op: record.op });
      const seconds = this.changes.stop(recordPath(record));
      if (seconds !== undefined) m.closeToCommit.observe(seconds);
    }
  }

  #failure(failure: FailureInfo): void {
    this.#m.pipeline.failures.inc({ stage: failure.stage, reason: failureReason(failure.error) });
    // A failed upload never reports `uploaded`; its retry starts a new timing.
    if (failure.stage === "upload") this.uploads.forget(failure.path);
  }
}

/** The path a record settles: where a move lands, the path of a put or delete. */
function recordPath(record: IndexRecord): string {
  return record.op === "move" ? record.to : record.path;
}
