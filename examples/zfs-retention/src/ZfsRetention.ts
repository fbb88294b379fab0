import type { Exec } from "./spawnExec.js";
import { selectRetained, type DatedSnapshot, type RetentionPolicy } from "./selectRetained.js";

/** What one {@link ZfsRetention.tick} did to one dataset. */
export interface RetentionResult {
  readonly dataset: string;
  /** The snapshot taken, if one was due. */
  readonly created?: string;
  /** Snapshots destroyed (full names). */
  readonly destroyed: readonly string[];
  /** Snapshots of ours kept (full names, newest first). */
  readonly kept: readonly string[];
}

/** Settings of {@link ZfsRetention}. */
export interface ZfsRetentionSettings {
  readonly datasets: readonly string[];
  readonly prefix: string;
  readonly keep: RetentionPolicy;
  /** A new snapshot is due when the newest of ours is at least this old (ms). */
  readonly intervalMs: number;
  readonly zfsPath: string;
  readonly exec: Exec;
}

const DUE_SLACK_MS = 5_000;

/**
 * Takes and prunes the snapshots of some datasets: on each tick, a dataset whose newest `<prefix>-` snapshot is at
 * least `intervalMs` old gets a new one, then every `<prefix>-` snapshot the policy does not keep is destroyed.
 * Snapshots with other names (manual ones, the backup's own, other tools') are never touched.
 */
export class ZfsRetention {
  readonly settings: ZfsRetentionSettings;

  constructor(settings: ZfsRetentionSettings) {
    this.settings = settings;
  }

  /** One pass over every dataset at time `now` (ms). A failing dataset does not stop the others; its error is rethrown after. */
  async tick(now: number): Promise<RetentionResult[]> {
    const results: RetentionResult[] = [];
    const errors: unknown[] = [];
    for (const dataset of this.settings.datasets) {
      try {
        results.push(await this.#tickDataset(dataset, now));
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} datasets failed`);
    return results;
  }

  /** The snapshots of `dataset` made by this plugin, from `zfs list`. */
  async listOurs(dataset: string): Promise<DatedSnapshot[]> {
    const out = await this.#zfs(["list", "-H", "-p", "-t", "snapshot", "-o", "name,creation", "-d", "1", dataset]);
    const mine = `${dataset}@${this.settings.prefix}-`;
    const snapshots: DatedSnapshot[] = [];
    for (const line of out.split("\n")) {
      const [name, creation] = line.split("\t");
      if (!name?.startsWith(mine) || creation === undefined || !/^\d+$/.test(creation)) continue;
      snapshots.push({ name, createdAt: Number(creation) * 1000 });
    }
    return snapshots;
  }

  async #tickDataset(dataset: string, now: number): Promise<RetentionResult> {
    const snapshots = await this.listOurs(dataset);
    const newest = Math.max(-Infinity, ...snapshots.map((s) => s.createdAt));
    let created: string | undefined;
    // The slack absorbs timer drift and zfs's whole-second creation times, so a pass that runs a little early still
    // takes the snapshot that is due.
    if (now - newest >= this.settings.intervalMs - DUE_SLACK_MS) {
      created = `${dataset}@${this.settings.prefix}-${stamp(now)}`;
      if (!snapshots.some((s) => s.name === created)) {
        await this.#zfs(["snapshot", created]);
        snapshots.push({ name: created, createdAt: now });
      }
    }
    const keep = selectRetained(snapshots, this.settings.keep);
    const destroyed: string[] = [];
    for (const s of snapshots) {
      if (keep.has(s.name)) continue;
      await this.#zfs(["destroy", s.name]);
      destroyed.push(s.name);
    }
    const kept = snapshots
      .filter((s) => keep.has(s.name))
      .sort((a, b) => b.createdAt - a.createdAt)
      .map((s) => s.name);
    return { dataset, ...(created ? { created } : {}), destroyed, kept };
  }

  async #zfs(args: string[]): Promise<string> {
    const r = await this.settings.exec(this.settings.zfsPath, args);
    if (r.exitCode !== 0) throw new Error(`zfs ${args[0]} failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
    return r.stdout;
  }
}

/** `20260105-001500Z`: sortable, UTC, valid in a snapshot name. */
function stamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace("T", "-")
    .replace(/\.\d+Z$/, "Z");
}
