import {
  PluginOptions,
  checkedKind,
  commandKind,
  durationRangeKind,
  functionKind,
  integerKind,
  messageOf,
  patternKind,
  systemClock,
  type BackupPlugin,
  type Clock,
  type Engine,
} from "@rtbackup/core";
import { spawnExec, type Exec } from "./spawnExec.js";
import type { RetentionPolicy } from "./selectRetained.js";
import { ZfsRetention, type RetentionResult } from "./ZfsRetention.js";

const PLUGIN_NAME = "ZfsRetentionPlugin";

/** Options of {@link ZfsRetentionPlugin} (the checked form; see the README for defaults). */
export interface ZfsRetentionOptions {
  readonly datasets: readonly string[];
  readonly prefix: string;
  readonly keep: RetentionPolicy;
  readonly intervalMs: number;
  readonly zfsPath: string;
  /** Runs the zfs command (JS configs and tests may inject one). */
  readonly exec: Exec;
  /** Time and timers (tests inject a manual clock). */
  readonly clock: Clock;
  /** Called after every pass (for tests and monitoring). */
  readonly onTick: ((results: RetentionResult[]) => void) | undefined;
}

const DEFAULT_KEEP: RetentionPolicy = { frequent: 4, hourly: 24, daily: 7, weekly: 4 };

const KNOWN = ["datasets", "prefix", "keep", "intervalMs", "zfsPath", "exec", "clock", "onTick"];
const KEEP_CLASSES = ["frequent", "hourly", "daily", "weekly"];

const datasetKind = checkedKind<string>(
  "a dataset name like pool/home",
  (d) => typeof d === "string" && /^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/.test(d) && !d.endsWith("/") && !d.includes("//"),
);
const prefixKind = patternKind(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, "letters, digits, _ . : - (starting with a letter or digit)");
const keepKind = checkedKind<Record<string, unknown>>("{ frequent, hourly, daily, weekly }", (v) => typeof v === "object" && v !== null && !Array.isArray(v));
const frequentKind = checkedKind<number>(
  "a whole number of at least 1 (the newest snapshot is always kept)",
  (v) => Number.isSafeInteger(v) && (v as number) >= 1,
);
const clockKind = checkedKind<Clock>(
  "a Clock (now, setTimeout, clearTimeout)",
  (v) => typeof v === "object" && v !== null && ["now", "setTimeout", "clearTimeout"].every((m) => typeof (v as Record<string, unknown>)[m] === "function"),
);

/** The `keep` option: an object of its own, each class named `ZfsRetentionPlugin.options.keep.<class>` when bad. */
function readKeep(o: PluginOptions): RetentionPolicy {
  const where = o.where("keep");
  const k = PluginOptions.read(where, o.get("keep", keepKind, {}), KEEP_CLASSES, { where: (name) => `${where}.${name}` });
  const count = integerKind(0);
  return {
    frequent: k.get("frequent", frequentKind, DEFAULT_KEEP.frequent),
    hourly: k.get("hourly", count, DEFAULT_KEEP.hourly),
    daily: k.get("daily", count, DEFAULT_KEEP.daily),
    weekly: k.get("weekly", count, DEFAULT_KEEP.weekly),
  };
}

/** `datasets`: a non-empty list of dataset names, each named `datasets[i]` when bad. */
function readDatasets(o: PluginOptions): string[] {
  if (!o.has("datasets")) o.fail("datasets", "required: expected a non-empty list of dataset names");
  const datasets = o.list("datasets", datasetKind)!;
  if (datasets.length === 0) o.fail("datasets", "expected a non-empty list of dataset names, got []");
  return datasets;
}

/**
 * Checks raw options with core's {@link PluginOptions}; a bad value throws a ConfigError naming
 * `ZfsRetentionPlugin.options.<option>` (`keep.<class>` inside `keep`, `datasets[i]` in the list).
 */
export function parseZfsRetentionOptions(raw: unknown): ZfsRetentionOptions {
  const o = PluginOptions.read(PLUGIN_NAME, raw, KNOWN);
  return {
    datasets: readDatasets(o),
    prefix: o.get("prefix", prefixKind, "rtb-auto"),
    keep: readKeep(o),
    intervalMs: o.get("intervalMs", durationRangeKind(60_000), 15 * 60_000),
    zfsPath: o.get("zfsPath", commandKind, "zfs"),
    exec: (o.get("exec", functionKind) as Exec | undefined) ?? spawnExec(),
    clock: o.get("clock", clockKind, systemClock),
    onTick: o.get("onTick", functionKind) as ((results: RetentionResult[]) => void) | undefined,
  };
}

/**
 * Keeps rolling ZFS snapshots of some datasets (frequent/hourly/daily/weekly, as zfs-auto-snapshot and
 * zfs-autobackup do), independent of the backup: the engine hosts it like any other plugin. It taps `initialize`
 * (runs one pass, then one every `intervalMs`) and `shutdown` (stops the timer and waits for a pass in progress).
 * A failed pass is logged and the next one runs on time.
 */
export class ZfsRetentionPlugin implements BackupPlugin {
  readonly name = PLUGIN_NAME;
  readonly options: ZfsRetentionOptions;
  readonly retention: ZfsRetention;

  constructor(options: unknown) {
    this.options = parseZfsRetentionOptions(options);
    this.retention = new ZfsRetention(this.options);
  }

  apply(engine: Engine): void {
    const log = engine.getLogger(PLUGIN_NAME);
    const { clock } = this.options;
    let timer: unknown;
    let running: Promise<void> | undefined;
    let stopped = false;
    const pass = async () => {
      try {
        const results = await this.retention.tick(clock.now());
        for (const r of results) {
          if (r.created || r.destroyed.length)
            log.info(`${r.dataset}: ${r.created ? `took ${r.created}, ` : ""}destroyed ${r.destroyed.length}, keeping ${r.kept.length}`);
        }
        this.options.onTick?.(results);
      } catch (err) {
        log.error(`snapshot retention pass failed: ${messageOf(err)}`, err);
      }
    };
    const schedule = () => {
      if (stopped) return;
      timer = clock.setTimeout(() => {
        running = pass().finally(() => {
          running = undefined;
          schedule();
        });
      }, this.options.intervalMs);
    };
    engine.hooks.initialize.tapPromise(PLUGIN_NAME, async () => {
      stopped = false;
      await pass();
      schedule();
    });
    engine.hooks.shutdown.tapPromise(PLUGIN_NAME, async () => {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      await running;
    });
  }
}
