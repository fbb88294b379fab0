import { ConfigError, messageOf, systemClock, type BackupPlugin, type Clock, type Engine } from "@rtbackup/core";
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

/** Checks raw options; a bad value throws a ConfigError naming the option. */
export function parseZfsRetentionOptions(raw: unknown, where = "options"): ZfsRetentionOptions {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ConfigError(where, "expected an object with datasets");
  const o = raw as Record<string, unknown>;
  const known = new Set(["datasets", "prefix", "keep", "intervalMs", "zfsPath", "exec", "clock", "onTick"]);
  for (const key of Object.keys(o)) if (!known.has(key)) throw new ConfigError(`${where}.${key}`, "unknown option");
  const datasets = o.datasets;
  if (!Array.isArray(datasets) || datasets.length === 0) throw new ConfigError(`${where}.datasets`, "expected a non-empty list of dataset names");
  datasets.forEach((d, i) => {
    if (typeof d !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/.test(d) || d.endsWith("/") || d.includes("//")) {
      throw new ConfigError(`${where}.datasets[${i}]`, `expected a dataset name like pool/home, got ${JSON.stringify(d)}`);
    }
  });
  const prefix = o.prefix ?? "rtb-auto";
  if (typeof prefix !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/.test(prefix)) {
    throw new ConfigError(`${where}.prefix`, `expected letters, digits, _ . : - (starting with a letter or digit), got ${JSON.stringify(prefix)}`);
  }
  const keepRaw = o.keep ?? {};
  if (typeof keepRaw !== "object" || keepRaw === null || Array.isArray(keepRaw))
    throw new ConfigError(`${where}.keep`, "expected { frequent, hourly, daily, weekly }");
  const keep: Record<string, number> = { ...DEFAULT_KEEP };
  for (const [k, v] of Object.entries(keepRaw)) {
    if (!(k in DEFAULT_KEEP)) throw new ConfigError(`${where}.keep.${k}`, "unknown class (expected frequent, hourly, daily or weekly)");
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0)
      throw new ConfigError(`${where}.keep.${k}`, `expected a whole number ≥ 0, got ${JSON.stringify(v)}`);
    keep[k] = v;
  }
  if (keep.frequent! < 1) throw new ConfigError(`${where}.keep.frequent`, "must be at least 1 (the newest snapshot is always kept)");
  const intervalMs = o.intervalMs ?? 15 * 60_000;
  if (typeof intervalMs !== "number" || !Number.isInteger(intervalMs) || intervalMs < 60_000) {
    throw new ConfigError(`${where}.intervalMs`, `expected a whole number of milliseconds ≥ 60000, got ${JSON.stringify(intervalMs)}`);
  }
  const zfsPath = o.zfsPath ?? "zfs";
  if (typeof zfsPath !== "string" || zfsPath === "") throw new ConfigError(`${where}.zfsPath`, "expected a command name or path");
  const fn = (key: string) => {
    if (o[key] !== undefined && typeof o[key] !== "function") throw new ConfigError(`${where}.${key}`, "expected a function");
  };
  fn("exec");
  fn("onTick");
  const clock = o.clock ?? systemClock;
  if (typeof clock !== "object" || clock === null || typeof (clock as Clock).now !== "function" || typeof (clock as Clock).setTimeout !== "function") {
    throw new ConfigError(`${where}.clock`, "expected a Clock (now, setTimeout, clearTimeout)");
  }
  return {
    datasets: datasets as string[],
    prefix,
    keep: keep as unknown as RetentionPolicy,
    intervalMs,
    zfsPath,
    exec: (o.exec as Exec | undefined) ?? spawnExec(),
    clock: clock as Clock,
    onTick: o.onTick as ((results: RetentionResult[]) => void) | undefined,
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
