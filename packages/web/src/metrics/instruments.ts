import { Counter, Histogram, type Registry } from "prom-client";

/** Buckets of the upload histogram (seconds): 1 ms to 5 min. */
export const UPLOAD_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** Buckets of the close→commit histogram (seconds): 10 ms to 10 min. */
export const CLOSE_TO_COMMIT_BUCKETS: readonly number[] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** Label values known in advance, written as zeros from the start so every series exists before its first event. */
const EVENT_TYPES = ["update", "move", "delete", "rescan"];
const ACTION_TYPES = ["upload", "move", "delete"];
const RECORD_OPS = ["put", "move", "delete"];
const SCAN_REASONS = ["initial", "startup", "periodic", "overflow", "request"];

/** The counters and histograms the pipeline's hooks move. */
export interface PipelineInstruments {
  readonly events: Counter<"type">;
  readonly filesQueued: Counter<"action">;
  readonly filesUploaded: Counter;
  readonly readBytes: Counter;
  readonly uploadedBytes: Counter;
  readonly recordsCommitted: Counter<"op">;
  readonly batchesCommitted: Counter;
  readonly uploadDuration: Histogram;
  readonly closeToCommit: Histogram;
  readonly trackingDropped: Counter<"histogram" | "reason">;
  readonly failures: Counter<"stage" | "reason">;
  readonly scansStarted: Counter<"reason">;
  readonly scansFinished: Counter<"reason">;
}

/** The counters of storage calls (see meterStorage). */
export interface StorageInstruments {
  readonly calls: Counter<"kind" | "class">;
  readonly errors: Counter<"kind" | "class">;
}

/** Every counter and histogram of an {@link AgentMetrics}, registered on `registry` with names starting `prefix`. */
export interface Instruments {
  readonly pipeline: PipelineInstruments;
  readonly storage: StorageInstruments;
}

/** Creates and registers the counters and histograms. */
export function createInstruments(registry: Registry, prefix: string): Instruments {
  return { pipeline: { ...flowInstruments(registry, prefix), ...outcomeInstruments(registry, prefix) }, storage: storageInstruments(registry, prefix) };
}

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  return new Counter<L>({ name, help, labelNames, registers: [registry] });
}

function zeros<L extends string>(c: Counter<L>, label: L, values: readonly string[]): Counter<L> {
  for (const value of values) c.inc({ [label]: value } as Partial<Record<L, string>>, 0);
  return c;
}

/** What flows through the pipeline: events in, actions queued, files uploaded, records committed. */
function flowInstruments(registry: Registry, p: string) {
  return {
    events: zeros(counter(registry, `${p}events_total`, "Change events received from sources, by event type.", ["type"]), "type", EVENT_TYPES),
    filesQueued: zeros(
      counter(registry, `${p}files_queued_total`, "Actions that entered the action queue, by action (upload, move, delete).", ["action"]),
      "action",
      ACTION_TYPES,
    ),
    filesUploaded: counter(registry, `${p}files_uploaded_total`, "Files whose content was read and stored (not yet committed)."),
    readBytes: counter(registry, `${p}read_bytes_total`, "Bytes of file content read by uploads."),
    uploadedBytes: counter(registry, `${p}uploaded_bytes_total`, "Bytes of content sent to storage (content already stored is not sent)."),
    recordsCommitted: zeros(counter(registry, `${p}records_committed_total`, "Index records committed, by op (put, move, delete).", ["op"]), "op", RECORD_OPS),
    batchesCommitted: counter(registry, `${p}batches_committed_total`, "Index batches committed."),
  };
}

/** Latencies, failures and scans. */
function outcomeInstruments(registry: Registry, p: string) {
  return {
    uploadDuration: new Histogram({
      name: `${p}upload_duration_seconds`,
      help: "Time from an upload's start to its content being stored, per file.",
      buckets: [...UPLOAD_BUCKETS],
      registers: [registry],
    }),
    closeToCommit: new Histogram({
      name: `${p}close_to_commit_seconds`,
      help: "Time from the first change event of a path not yet committed to the commit of a record for it.",
      buckets: [...CLOSE_TO_COMMIT_BUCKETS],
      registers: [registry],
    }),
    trackingDropped: counter(
      registry,
      `${p}latency_tracking_dropped_total`,
      "Paths whose latency was not measured: too many in flight (overflow) or in flight too long (expired).",
      ["histogram", "reason"],
    ),
    failures: counter(registry, `${p}failures_total`, "Failures of a path at a stage, by stage and reason (an error code, or other).", ["stage", "reason"]),
    scansStarted: zeros(counter(registry, `${p}scans_started_total`, "Scans started, by reason.", ["reason"]), "reason", SCAN_REASONS),
    scansFinished: zeros(counter(registry, `${p}scans_finished_total`, "Scans finished, by reason.", ["reason"]), "reason", SCAN_REASONS),
  };
}

function storageInstruments(registry: Registry, p: string): StorageInstruments {
  return {
    calls: counter(registry, `${p}storage_calls_total`, "Calls of the storage backend, by kind and B2 transaction class (A, B, C, none).", ["kind", "class"]),
    errors: counter(registry, `${p}storage_errors_total`, "Storage calls that failed, by kind and B2 transaction class.", ["kind", "class"]),
  };
}
