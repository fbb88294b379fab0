import { messageOf } from "../errors.js";
import { isUnder } from "../mounts/mountPaths.js";
import { sameEntry } from "../pipeline/Uploader.js";
import { applyRecord, type IndexObjectName } from "../repository/format.js";
import type { Repository } from "../repository/Repository.js";
import type { FileEntry } from "../types.js";
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

/**
 * Pass 2 of a check: applies the journal from batch 0, in journal order, every batch except those a later batch
 * replaces, and compares each checkpoint, entry by entry, with the tree the batches give at its sequence number (and
 * its time with the time of its batches). Where the batches before a checkpoint are damaged or missing the checkpoint
 * cannot be compared: that is a warning, and the replay continues from the checkpoint's entries. Every put record
 * (and checkpoint entry, or move) that gives a path content including a chunk in `damaged` becomes a dependent version.
 */
export async function replayIndex(repo: Repository, scan: IndexScan, damaged: ReadonlySet<string>): Promise<Replay> {
  const out: Replay = { tree: new Map(), dependents: new Map(), damage: [], warnings: [] };
  const listed = new Set<string>();
  const depend = (entry: FileEntry, origin: Origin) => {
    for (const id of new Set(entry.chunks)) {
      if (!damaged.has(id) || listed.has(`${entry.path}\0${id}`)) continue;
      listed.add(`${entry.path}\0${id}`);
      const list = out.dependents.get(id) ?? [];
      list.push({ path: entry.path, ...origin, current: false });
      out.dependents.set(id, list);
    }
  };
  let valid = true;
  let applied = -1;
  const times = new Map<number, number>();
  for (const b of scan.batches) times.set(b.seq, Math.max(times.get(b.seq) ?? 0, b.time));
  const unreadable = (name: IndexObjectName, kind: Damage["kind"], err: unknown) => {
    if (!isObjectDamage(err)) throw err;
    out.damage.push({ kind, key: name.key, seq: name.seq, time: name.time, message: `${name.key} cannot be read: ${messageOf(err)}` });
  };

  const checkpoint = async (c: IndexObjectName) => {
    if (scan.unreadable.has(c.key)) return;
    const comparable = valid && applied === c.seq;
    const entries = new Map<string, FileEntry>();
    const differing: string[] = [];
    let differ = 0;
    const note = (path: string) => {
      differ++;
      if (differing.length < MAX_LISTED_PATHS) differing.push(path);
    };
    try {
      for await (const entry of repo.readCheckpoint(c)) {
        entries.set(entry.path, entry);
        if (!comparable) continue;
        const mine = out.tree.get(entry.path);
        if (!mine || !sameEntry(mine, entry)) note(entry.path);
      }
    } catch (err) {
      return unreadable(c, "checkpoint-unreadable", err);
    }
    if (damaged.size) for (const entry of entries.values()) depend(entry, c);
    if (!comparable) {
      out.warnings.push({
        kind: "checkpoint-unverified",
        seq: c.seq,
        keys: [c.key],
        message: `checkpoint ${c.key} cannot be compared with its batches (batches up to ${c.seq} are damaged or missing); reading continues from it`,
      });
      out.tree = entries;
      valid = true;
      applied = c.seq;
      return;
    }
    for (const path of out.tree.keys()) if (!entries.has(path)) note(path);
    const expectedTime = [...times].filter(([seq]) => seq <= c.seq).reduce((m, [, t]) => Math.max(m, t), 0);
    const problems: string[] = [];
    if (differ) problems.push(`${differ} path(s) differ from what batches 0..${c.seq} give`);
    if (c.time !== expectedTime) problems.push(`its time ${c.time} is not the time of its batches (${expectedTime})`);
    if (!problems.length) return;
    out.damage.push({
      kind: "checkpoint-mismatch",
      key: c.key,
      seq: c.seq,
      time: c.time,
      message: `checkpoint ${c.key} disagrees with its batches: ${problems.join("; ")}`,
      paths: differing,
      pathCount: differ,
    });
  };

  let ci = 0;
  for (const b of scan.batches) {
    while (ci < scan.checkpoints.length && scan.checkpoints[ci]!.seq < b.seq) await checkpoint(scan.checkpoints[ci++]!);
    if (b.seq > applied + 1) valid = false;
    applied = Math.max(applied, b.seq);
    if (scan.unreadable.has(b.key)) {
      valid = false;
      continue;
    }
    if (scan.replaced.has(b.key)) continue;
    let records;
    try {
      ({ records } = await repo.readBatch(b));
    } catch (err) {
      unreadable(b, "batch-unreadable", err);
      valid = false;
      continue;
    }
    for (const record of records) {
      applyRecord(out.tree, record);
      if (damaged.size === 0) continue;
      if (record.op === "put") depend(record, b);
      else if (record.op === "move") {
        const single = out.tree.get(record.to);
        const moved = single && single.type !== "dir" ? [single] : [...out.tree.values()].filter((e) => isUnder(e.path, record.to));
        for (const entry of moved) depend(entry, b);
      }
    }
  }
  while (ci < scan.checkpoints.length) await checkpoint(scan.checkpoints[ci++]!);
  for (const [id, versions] of out.dependents) {
    for (const v of versions) v.current = out.tree.get(v.path)?.chunks.includes(id) ?? false;
  }
  return out;
}
