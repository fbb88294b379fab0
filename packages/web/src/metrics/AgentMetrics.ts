import { Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { ConfigError, type BackupPlugin, type Runtime } from "@rtbackup/core";
import { AgentMetricsPlugin } from "./AgentMetricsPlugin.js";
import { createInstruments } from "./instruments.js";
import { RuntimeGauges } from "./RuntimeGauges.js";

/** Options of {@link AgentMetrics}. */
export interface AgentMetricsOptions {
  /** Start of every metric name, the process metrics' too. Default `rtb_`. */
  prefix?: string;
  /**
   * Paths whose latency (change → commit, upload start → end) is tracked at once, per histogram; starting one more
   * drops the oldest, counted in `latency_tracking_dropped_total`. Default 100,000.
   */
  maxTrackedPaths?: number;
  /**
   * A change not committed (an upload not finished) within this many milliseconds is dropped from tracking and
   * counted as expired: an excluded or unchanged file never commits. Default 3,600,000 (one hour).
   */
  maxTrackedAgeMs?: number;
  /** Monotonic milliseconds for the latencies. Default `performance.now()`; tests inject their own. */
  now?: () => number;
}

const PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** `value` if it is a positive integer, else a ConfigError naming the option. */
function positive(option: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(`AgentMetrics.options.${option}`, `expected a positive integer, got ${String(value)}`);
  return value;
}

/**
 * The agent's Prometheus metrics, on a registry of their own (never prom-client's global one). Add {@link plugin}
 * to the engine's plugins before `engine.start()`: it counts events, uploads, commits, failures, scans and storage
 * calls as they happen. After the start, {@link attach} the runtime: queue depths, cache size and the other gauges
 * are read from `runtime.stats()` at each scrape. Process metrics (RSS, CPU, heap, event loop lag) come from
 * prom-client's default collectors. The package README lists every metric.
 */
export class AgentMetrics {
  /** The registry every metric of this instance is registered on. */
  readonly registry: Registry = new Registry();
  /** Taps the engine's hooks and wraps its storage; add it to the engine's plugins before it starts. */
  readonly plugin: BackupPlugin;
  readonly #gauges: RuntimeGauges;

  /** @throws ConfigError when an option is invalid. */
  constructor(options: AgentMetricsOptions = {}) {
    const prefix = options.prefix ?? "rtb_";
    if (prefix !== "" && !PREFIX.test(prefix))
      throw new ConfigError("AgentMetrics.options.prefix", `expected a Prometheus metric name prefix, got "${prefix}"`);
    const plugin = new AgentMetricsPlugin(createInstruments(this.registry, prefix), {
      maxPaths: positive("maxTrackedPaths", options.maxTrackedPaths ?? 100_000),
      maxAgeMs: positive("maxTrackedAgeMs", options.maxTrackedAgeMs ?? 3_600_000),
      now: options.now ?? (() => performance.now()),
    });
    this.plugin = plugin;
    new Gauge({
      name: `${prefix}latency_tracked_paths`,
      help: "Paths whose latency is being tracked now, by histogram (close_to_commit, upload).",
      labelNames: ["histogram"],
      registers: [this.registry],
      collect() {
        this.set({ histogram: "close_to_commit" }, plugin.changes.size);
        this.set({ histogram: "upload" }, plugin.uploads.size);
      },
    });
    this.#gauges = new RuntimeGauges(this.registry, prefix);
    collectDefaultMetrics({ register: this.registry, prefix });
  }

  /** Reads the gauges from this running agent (call it after `engine.start()`; again after a restart). */
  attach(runtime: Runtime): void {
    this.#gauges.attach(runtime);
  }

  /** The exposition: every metric in Prometheus' text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The Content-Type of {@link text}. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
