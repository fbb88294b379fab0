import { IndexDamagedError } from "../errors.js";
import { isDamage, readJournal } from "../repository/journal.js";
import { isV2, type AnyRepository } from "../repository/openRepository.js";
import type { Repository } from "../repository/Repository.js";
import { mergeLanes, type LaneDamage } from "../repository/v2/lanes.js";
import { readViewLanes } from "../repository/v2/readTreeV2.js";
import { readIndexView } from "../repository/v2/indexView.js";
import type { RepositoryV2 } from "../repository/v2/RepositoryV2.js";
import type { IndexRecord } from "../types.js";

/** One commit of the index: a batch, in the order every reader applies them (docs/history.md). */
export interface Commit {
  /** The batch's commit time (ms since the epoch). */
  readonly time: number;
  /** Who wrote it: a v2 lane id, or "journal" for a v1 repository's single journal. */
  readonly writer: string;
  /** The batch's sequence number in its lane (v2) or journal (v1). */
  readonly seq: number;
  /** The batch's key, relative to the repository prefix. */
  readonly key: string;
  readonly records: readonly IndexRecord[];
  /** v2: bytes of the blobs this commit stored first (compressed, as stored in packs); v1: undefined. */
  readonly storedBytes: number | undefined;
}

/** Every commit of a repository, oldest first, and the damage met (each named; the rest is still there). */
export interface History {
  readonly commits: Commit[];
  readonly damage: IndexDamagedError[];
  /** v2: lane id → the host its `lane` object names (when it could be read). */
  readonly hosts: ReadonlyMap<string, string>;
}

/**
 * Reads every batch the index holds, in apply order: v2 lanes merged (batch time, lane id, sequence number, as
 * readTreeV2 applies them), v1 journal batches in journal order without the ones a later batch replaces. History
 * lives in the batches only, so a checkpoint is never read. Like a salvaging restore, a batch that cannot be read,
 * a gap or a broken chain is named in `damage` and every readable batch is still returned.
 */
export async function readHistory(repo: AnyRepository, options: { until?: number } = {}): Promise<History> {
  return isV2(repo) ? readHistoryV2(repo, options.until) : readHistoryV1(repo, options.until);
}

async function readHistoryV2(repo: RepositoryV2, until: number | undefined): Promise<History> {
  // Under a base (a prune), history before it is the base's lane: superseded batches are never read.
  const view = await readIndexView(repo, until === undefined ? {} : { at: until });
  const { byLane, read, problems } = await readViewLanes(repo, view.lanes, { salvage: true });
  const damage = historyDamage(view.damage, problems);
  const hosts = new Map<string, string>();
  for (const lane of view.lanes.keys()) {
    const host = await laneHost(repo, lane);
    if (host !== undefined) hosts.set(lane, host);
  }
  const commits = mergeLanes(byLane.values()).map((name): Commit => {
    const batch = read.get(name.key)!;
    const storedBytes = batch.blobs.reduce((n, b) => n + b.length, 0);
    return { time: name.time, writer: name.lane, seq: name.seq, key: name.key, records: batch.records, storedBytes };
  });
  return { commits, damage, hosts };
}

/** The damage a history read names: unusable bases, then each lane's (whose readable batches are still shown). */
export function historyDamage(view: readonly LaneDamage[], lanes: readonly LaneDamage[]): IndexDamagedError[] {
  return [...view.map((d) => new IndexDamagedError(d.message)), ...lanes.map((p) => new IndexDamagedError(`${p.message}; the rest of the lane is shown`))];
}

/** The host a lane's `lane` object names, or undefined when it cannot be read (history does not depend on it). */
export async function laneHost(repo: RepositoryV2, lane: string): Promise<string | undefined> {
  try {
    const info = (await repo.laneInfo(lane)) as { host?: unknown } | undefined;
    return typeof info?.host === "string" ? info.host : undefined;
  } catch (err) {
    if (isDamage(err)) return undefined;
    throw err;
  }
}

async function readHistoryV1(repo: Repository, until: number | undefined): Promise<History> {
  const damage: IndexDamagedError[] = [];
  const journal = await readJournal(repo, {
    after: -1,
    ...(until === undefined ? {} : { at: until }),
    onDamage: (d) => damage.push(d),
  });
  const commits: Commit[] = [];
  for (const batch of journal.batches) {
    if (journal.replaced.has(batch.name.key)) continue;
    commits.push({ time: batch.name.time, writer: "journal", seq: batch.name.seq, key: batch.name.key, records: batch.records, storedBytes: undefined });
  }
  return { commits, damage, hosts: new Map() };
}
