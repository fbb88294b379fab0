import { messageOf } from "../errors.js";
import { isUnder } from "../mounts/mountPaths.js";
import { sameEntry } from "../pipeline/identity.js";
import { applyRecord, isNoOpMove, type IndexObjectName } from "../repository/format.js";
import type { Repository } from "../repository/Repository.js";
import type { FileEntry, IndexRecord } from "../types.js";
import { MAX_LISTED_PATHS, type CheckWarning, type Damage, type DependentVersion } from "./CheckReport.js";
import { isObjectDamage, type IndexScan } from "./scanIndex.js";

/** What the replay of the journal found. */
export interface Replay {
  /** The newest tree the batches give (from the newest checkpoint that could be trusted where batches are damaged). */
  tree: Map<string, FileEntry>;
  /** Damaged chunk id → every version that needs it, in journal order. */
  dependents: Map<string, DependentVersion[]>;
  damage: Damage[];
  warnings: CheckWarning[];
}

type Origin = Pick<DependentVersion, "seq" | "time" | "key">;

/** What the steps of a replay share while it runs. */
interface ReplayState {
  readonly repo: Repository;
  readonly damaged: ReadonlySet<string>;
  readonly out: Replay;
  /** `path\0chunk id` pairs already listed as dependent versions. */
  readonly listed: Set<string>;
  /** Sequence number → the newest time of its batches. */
  readonly times: Map<number, number>;
  /** Whether `out.tree` is what every batch up to `applied` gives (none of them damaged or missing). */
  valid: boolean;
  /** Highest sequence number replayed so far. */
  applied: number;
}

/** Paths where a checkpoint and its batches disagree: how many, and the first of them. */
interface Differences {
  count: number;
  paths: string[];
}

/**
 * Pass 2 of a check: applies the journal from batch 0, in journal order, every batch except those a later batch
 * replaces, and compares each checkpoint, entry by entry, with the tree the batches give at its sequence number (and
 * its time with the time of its batches). Where the batches before a checkpoint are damaged or missing the checkpoint
 * cannot be compared: that is a warning, and the replay continues from the checkpoint's entries. Every put record
 * (and checkpoint entry, or move) that gives a path content including a chunk in `damaged` becomes a dependent version.
 */
export async function replayIndex(repo: Repository, scan: IndexScan, damaged: ReadonlySet<string>): Promise<Replay> {
  const state = startReplay(repo, scan, damaged);
  let ci = 0;
  for (const b of scan.batches) {
    while (ci < scan.checkpoints.length && scan.checkpoints[ci]!.seq < b.seq) await replayCheckpoint(state, scan, scan.checkpoints[ci++]!);
    await replayBatch(state, scan, b);
  }
  while (ci < scan.checkpoints.length) await replayCheckpoint(state, scan, scan.checkpoints[ci++]!);
  markCurrentVersions(state.out);
  return state.out;
}

/** The state of a replay that has applied nothing yet. */
function startReplay(repo: Repository, scan: IndexScan, damaged: ReadonlySet<string>): ReplayState {
  const times = new Map<number, number>();
  for (const b of scan.batches) times.set(b.seq, Math.max(times.get(b.seq) ?? 0, b.time));
  const out: Replay = { tree: new Map(), dependents: new Map(), damage: [], warnings: [] };
  return { repo, damaged, out, listed: new Set(), times, valid: true, applied: -1 };
}

/** Lists `entry`, as given at `origin`, as a dependent version of each damaged chunk it includes (once per path and chunk). */
function addDependents(state: ReplayState, entry: FileEntry, origin: Origin): void {
  for (const id of new Set(entry.chunks)) {
    if (!state.damaged.has(id) || state.listed.has(`${entry.path}\0${id}`)) continue;
    state.listed.add(`${entry.path}\0${id}`);
    const list = state.out.dependents.get(id) ?? [];
    list.push({ path: entry.path, ...origin, current: false });
    state.out.dependents.set(id, list);
  }
}

/** Records an object that cannot be read as damage; rethrows any other failure (an unreachable store). */
function noteUnreadable(out: Replay, name: IndexObjectName, kind: Damage["kind"], err: unknown): void {
  if (!isObjectDamage(err)) throw err;
  out.damage.push({ kind, key: name.key, seq: name.seq, time: name.time, message: `${name.key} cannot be read: ${messageOf(err)}` });
}

/** Applies batch `b` to the tree (unless it is unreadable or replaced), noting whether the tree still follows the journal. */
async function replayBatch(state: ReplayState, scan: IndexScan, b: IndexObjectName): Promise<void> {
  if (b.seq > state.applied + 1) state.valid = false;
  state.applied = Math.max(state.applied, b.seq);
  if (scan.unreadable.has(b.key)) {
    state.valid = false;
    return;
  }
  if (scan.replaced.has(b.key)) return;
  let records;
  try {
    ({ records } = await state.repo.readBatch(b));
  } catch (err) {
    noteUnreadable(state.out, b, "batch-unreadable", err);
    state.valid = false;
    return;
  }
  for (const record of records) applyBatchRecord(state, record, b);
}

/** Applies one record of batch `b` to the tree and lists the versions it gives damaged chunks. */
function applyBatchRecord(state: ReplayState, record: IndexRecord, b: IndexObjectName): void {
  const { out } = state;
  applyRecord(out.tree, record);
  if (state.damaged.size === 0) return;
  if (record.op === "put") addDependents(state, record, b);
  else if (record.op === "move" && !isNoOpMove(record.from, record.to)) {
    const single = out.tree.get(record.to);
    const moved = single && single.type !== "dir" ? [single] : [...out.tree.values()].filter((e) => isUnder(e.path, record.to));
    for (const entry of moved) addDependents(state, entry, b);
  }
}

/**
 * Checks checkpoint `c` against the tree replayed up to its sequence number, or, when that tree cannot be trusted,
 * warns and continues the replay from the checkpoint's entries.
 */
async function replayCheckpoint(state: ReplayState, scan: IndexScan, c: IndexObjectName): Promise<void> {
  if (scan.unreadable.has(c.key)) return;
  const comparable = state.valid && state.applied === c.seq;
  const read = await readCheckpointEntries(state, c, comparable);
  if (!read) return;
  const { entries, differences } = read;
  if (state.damaged.size) for (const entry of entries.values()) addDependents(state, entry, c);
  if (!comparable) return continueFromCheckpoint(state, c, entries);
  for (const path of state.out.tree.keys()) if (!entries.has(path)) noteDifference(differences, path);
  reportCheckpointMismatch(state, c, differences);
}

/**
 * Reads the entries of checkpoint `c`, noting (when `comparable`) those that differ from the replayed tree; undefined
 * when the checkpoint cannot be read (recorded as damage).
 */
async function readCheckpointEntries(
  state: ReplayState,
  c: IndexObjectName,
  comparable: boolean,
): Promise<{ entries: Map<string, FileEntry>; differences: Differences } | undefined> {
  const entries = new Map<string, FileEntry>();
  const differences: Differences = { count: 0, paths: [] };
  try {
    for await (const entry of state.repo.readCheckpoint(c)) {
      entries.set(entry.path, entry);
      if (!comparable) continue;
      const mine = state.out.tree.get(entry.path);
      if (!mine || !sameEntry(mine, entry)) noteDifference(differences, entry.path);
    }
  } catch (err) {
    noteUnreadable(state.out, c, "checkpoint-unreadable", err);
    return undefined;
  }
  return { entries, differences };
}

/** Counts one path where a checkpoint and its batches disagree, listing it while the list is short. */
function noteDifference(differences: Differences, path: string): void {
  differences.count++;
  if (differences.paths.length < MAX_LISTED_PATHS) differences.paths.push(path);
}

/** Warns that checkpoint `c` could not be compared, and takes its entries as the tree the replay goes on from. */
function continueFromCheckpoint(state: ReplayState, c: IndexObjectName, entries: Map<string, FileEntry>): void {
  state.out.warnings.push({
    kind: "checkpoint-unverified",
    seq: c.seq,
    keys: [c.key],
    message: `checkpoint ${c.key} cannot be compared with its batches (batches up to ${c.seq} are damaged or missing); reading continues from it`,
  });
  state.out.tree = entries;
  state.valid = true;
  state.applied = c.seq;
}

/** Records checkpoint `c` as damage when its entries or its time disagree with its batches. */
function reportCheckpointMismatch(state: ReplayState, c: IndexObjectName, differences: Differences): void {
  const expectedTime = [...state.times].filter(([seq]) => seq <= c.seq).reduce((m, [, t]) => Math.max(m, t), 0);
  const problems: string[] = [];
  if (differences.count) problems.push(`${differences.count} path(s) differ from what batches 0..${c.seq} give`);
  if (c.time !== expectedTime) problems.push(`its time ${c.time} is not the time of its batches (${expectedTime})`);
  if (!problems.length) return;
  state.out.damage.push({
    kind: "checkpoint-mismatch",
    key: c.key,
    seq: c.seq,
    time: c.time,
    message: `checkpoint ${c.key} disagrees with its batches: ${problems.join("; ")}`,
    paths: differences.paths,
    pathCount: differences.count,
  });
}

/** Marks each dependent version that is still the path's content at the end of the journal. */
function markCurrentVersions(out: Replay): void {
  for (const [id, versions] of out.dependents) {
    for (const v of versions) v.current = out.tree.get(v.path)?.chunks.includes(id) ?? false;
  }
}
