import { Counter, Gauge, type Registry } from "prom-client";
import type { AgentStats, Runtime } from "@rtbackup/core";

/** What one scrape reads: the runtime's stats (once per scrape) and the runtime itself. */
interface Reading {
  readonly stats: AgentStats;
  readonly runtime: Runtime;
}

/** One gauge read from the stats: a single value, or one value per label. */
interface GaugeSpec {
  readonly name: string;
  readonly help: string;
  readonly label?: string;
  readonly read: (stats: AgentStats) => number | Record<string, number>;
}

const flag = (on: boolean) => (on ? 1 : 0);

/** The gauges read from `runtime.stats()` at scrape time. */
const GAUGES: readonly GaugeSpec[] = [
  { name: "queue_depth", help: "Paths waiting in each stage of the pipeline, by queue (a key of stats().queues).", label: "queue", read: (s) => s.queues },
  { name: "uploads_in_flight", help: "Files being uploaded now.", read: (s) => s.uploads.length },
  { name: "paused", help: "1 while monitoring is paused, else 0.", read: (s) => flag(s.paused) },
  { name: "sources_not_watching", help: "Change sources that are not watching (degraded or stopped).", read: (s) => s.errors.sourcesNotWatching },
  { name: "state_cache_paths", help: "Paths in the local state cache.", read: (s) => s.stateCache.paths },
  { name: "snapshots_active", help: "Snapshots held now.", read: (s) => s.snapshots },
  { name: "gave_up_paths", help: "Paths given up on after their last attempt failed.", read: (s) => s.errors.gaveUp },
  { name: "scan_running", help: "1 while a scan runs, else 0.", read: (s) => flag(s.rescan.running) },
  { name: "scan_walked_paths", help: "Paths the running (or last) scan has walked.", read: (s) => s.rescan.walked },
  { name: "scan_queued_paths", help: "Paths the running (or last) scan has queued for backup.", read: (s) => s.rescan.queued },
];

/**
 * Counters the runtime keeps itself and no hook reports: the committer retries a failed index write (or pack put)
 * on its own, without calling the `failure` hook.
 */
const COUNTERS: readonly { name: string; help: string; read: (r: Reading) => number }[] = [
  {
    name: "commit_retries_total",
    help: "Index batch writes that failed and were retried by the committer (storage failures at commit time).",
    read: (r) => r.runtime.committer.stats.retries,
  },
];

/**
 * The agent's state as gauges: queue depths, uploads in flight, paused, sources not watching, state cache size,
 * scan progress. Each scrape reads `runtime.stats()` once (every gauge of one scrape sees the same stats). Until a
 * runtime is attached, or when its stats cannot be read (it was stopped), the gauges have no samples.
 */
export class RuntimeGauges {
  #runtime: Runtime | undefined;
  #stats: AgentStats | undefined;

  constructor(registry: Registry, prefix: string) {
    for (const spec of GAUGES) this.#register(registry, prefix, spec);
    for (const spec of COUNTERS) this.#registerCounter(registry, prefix, spec);
  }

  /** Reads the gauges from `runtime` from now on. */
  attach(runtime: Runtime): void {
    this.#runtime = runtime;
    this.#stats = undefined;
  }

  #register(registry: Registry, prefix: string, spec: GaugeSpec): void {
    const read = () => this.#read()?.stats;
    new Gauge({
      name: `${prefix}${spec.name}`,
      help: spec.help,
      labelNames: spec.label ? [spec.label] : [],
      registers: [registry],
      collect() {
        this.reset();
        const stats = read();
        // Unknown is no sample, not a zero: reset() leaves an unlabelled gauge at 0, remove() takes that away.
        if (!stats) {
          if (!spec.label) this.remove();
          return;
        }
        const value = spec.read(stats);
        if (typeof value === "number") this.set(value);
        else for (const [key, n] of Object.entries(value)) this.set({ [spec.label!]: key }, n);
      },
    });
  }

  #registerCounter(registry: Registry, prefix: string, spec: (typeof COUNTERS)[number]): void {
    const read = () => this.#read();
    new Counter({
      name: `${prefix}${spec.name}`,
      help: spec.help,
      registers: [registry],
      collect() {
        this.reset();
        const reading = read();
        if (reading) this.inc(spec.read(reading));
        else this.remove();
      },
    });
  }

  /** The stats of this scrape: read once, kept until the event loop turns (the rest of the scrape's collects). */
  #read(): Reading | undefined {
    const runtime = this.#runtime;
    if (!runtime) return undefined;
    if (!this.#stats) {
      try {
        this.#stats = runtime.stats();
      } catch {
        return undefined;
      }
      setImmediate(() => (this.#stats = undefined)).unref();
    }
    return { stats: this.#stats, runtime };
  }
}
