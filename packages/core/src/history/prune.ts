import { randomBytes } from "node:crypto";
import { BackupError, IndexDamagedError, StorageError, isErrno } from "../errors.js";
import { packKey, type StoredBlob } from "../repository/v2/PackStore.js";
import type { RepositoryV2 } from "../repository/v2/RepositoryV2.js";
import { readIndexView } from "../repository/v2/indexView.js";
import { encodeLaneBatch } from "../repository/v2/laneBatch.js";
import { laneBatchKey, laneKey, mergeLanes } from "../repository/v2/lanes.js";
import { readViewLanes } from "../repository/v2/readTreeV2.js";
import type { Base } from "../repository/v2/base.js";
import type { CheckpointName } from "../repository/v2/laneBatch.js";
import type { IndexRecord } from "../types.js";
import type { Commit } from "./commits.js";
import { planRetention, type RetentionPlan, type RetentionPolicy } from "./retention.js";
import { versionsOf, type Version } from "./versions.js";
import { planPacks, type PackPlan } from "./prunePacks.js";
import { pruningKey, takePruneLock } from "./pruneLock.js";

/** Options of {@link prune}. */
export interface PruneOptions {
  readonly policy: RetentionPolicy;
  /** The moment the policy is applied at (default: now). */
  readonly now?: number;
  /** Packs a prune found unneeded are deleted by a later prune at least this long after (default 24 h). */
  readonly graceMs?: number;
  /** Packs whose needed bytes are less than this share of them are rewritten (default 0.5). */
  readonly repackBelow?: number;
  /** Compute and report only: nothing is written or deleted. */
  readonly dryRun?: boolean;
  /** Spare blob locations per batch of the prune's lane (default 50,000: about 10 MiB of lines). */
  readonly locationsPerBatch?: number;
  /** Go on although another prune's marker says it may be running (it was killed on another host). */
  readonly force?: boolean;
  /** Told each step as it starts (logging; tests kill the process at one). */
  readonly onStep?: (step: string) => void | Promise<void>;
}

/** What a prune did (or, dry, would do). */
export interface PruneReport {
  readonly plan: RetentionPlan;
  readonly packs: PackPlan;
  readonly commits: { readonly read: number; readonly written: number };
  readonly deleted: { readonly batches: number; readonly packs: number; readonly bases: number; readonly checkpoints: number };
  readonly base: string | undefined;
  readonly dryRun: boolean;
}

export const DEFAULT_GRACE_MS = 24 * 3_600_000;

/** Spare blob locations per batch of a prune's lane (about 10 MiB of lines). */
const SPARE_PER_BATCH = 50_000;

/**
 * Applies a retention policy to a v2 repository (docs/history.md "Prune"): every version the policy keeps is written
 * again, at its commit time, into a new lane; a base then says that this lane supersedes every batch read; only
 * after that are superseded batches, older bases and checkpoints, and packs an earlier prune found unneeded (at least
 * `graceMs` ago, and still unneeded) deleted. A kill at any point leaves a repository that reads as before the prune
 * or as after it. Refuses an index with damage, a key that cannot read, and credentials that cannot delete.
 */
export async function prune(repo: RepositoryV2, options: PruneOptions): Promise<PruneReport> {
  const now = options.now ?? Date.now();
  const step = async (s: string) => options.onStep?.(s);
  if (!repo.cipher.canRead) throw new BackupError("KEY_MISSING", "prune reads the whole index: it needs the repository's master key, not a writer key");
  await step("read");
  const { view, commits, located, cut, checkpoints } = await readWhole(repo);
  const plan = planRetention(versionsOf(commits, "/", { recursive: true }), options.policy, now);
  const kept = plan.verdicts.filter((v) => v.keep).map((v) => v.version);
  const needed = new Set<string>();
  for (const v of kept) for (const id of v.entry?.type === "file" ? v.entry.chunks : []) needed.add(id);
  const previous = view.base;
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const packs = await planPacks(repo, { located, needed, previous, previousTime: view.baseName?.time, now, graceMs, repackBelow: options.repackBelow ?? 0.5 });
  const report = (written: number, deleted: PruneReport["deleted"], base?: string): PruneReport => ({
    plan,
    packs,
    commits: { read: commits.length, written },
    deleted,
    base,
    dryRun: options.dryRun === true,
  });
  if (options.dryRun) return report(0, { batches: 0, packs: 0, bases: 0, checkpoints: 0 });
  await assertCanDelete(repo);
  const lane = randomBytes(16).toString("hex");
  // The marker names the lane this prune writes (so a later prune can tell what a killed one left), and is its lock.
  await takePruneLock(repo, lane, { now, base: view.baseName?.key, force: options.force === true });

  // Kept blobs in packs being rewritten get new locations; everything else keeps its own.
  await step("repack");
  const moved = new Map<string, StoredBlob>();
  for (const id of packs.repackBlobs) await repo.packs.add(id, await repo.packs.read(located.get(id)!), true);
  for (const b of await repo.packs.flush()) moved.set(b.id, b);
  const where = (id: string) => moved.get(id) ?? located.get(id)!;

  await step("history");
  // Blobs located but needed by no kept version stay located while their pack is stored: an agent may have named
  // one since (deduplicated) in a batch this prune did not read. A later prune deletes what is still unneeded.
  const spare = [...located.values()].filter((b) => !needed.has(b.id) && !packs.dead.has(b.pack)).map((b) => where(b.id));
  const last = await writeHistoryLane(repo, lane, historyBatches(kept, plan.deletions), spare, where, {
    now,
    perBatch: options.locationsPerBatch ?? SPARE_PER_BATCH,
  });

  await step("base");
  const pruneLanes = [...new Set([...(previous?.pruneLanes ?? []), lane])];
  const base: Base = { time: Math.max(now, (view.baseName?.time ?? 0) + 1), lane, last, cut, candidates: [...packs.candidates].sort(), pruneLanes };
  const name = await repo.writeBase(base);
  await repo.describeLane(lane, "prune");

  await step("delete");
  const deleted = await deleteSuperseded(repo, { base, baseKey: name.key, packs, lane, graceMs, now, checkpoints });
  return report(last ? last.seq + 1 : 0, deleted, name.key);
}

/**
 * Every batch a reader applies (under the current base, if any), read and verified, merged into commits; where each
 * blob is; each lane's last batch (the new cut); the checkpoints listed first. Any damage refuses the prune: what a
 * damaged lane held cannot be rewritten, and must not be superseded.
 */
async function readWhole(repo: RepositoryV2) {
  // Checkpoints listed now cover batches this prune supersedes: they go once its base is stored.
  const checkpoints = await repo.checkpoints();
  const view = await readIndexView(repo);
  const refuse = (message: string) => new IndexDamagedError(`prune refuses a damaged index: ${message} (rtb check tells more)`);
  if (view.damage.length) throw refuse(view.damage[0]!.message);
  const { byLane, read, problems } = await readViewLanes(repo, view.lanes);
  if (problems.length) throw refuse(problems[0]!.message);
  const cut: Record<string, { seq: number; digest: string }> = { ...(view.base?.cut ?? {}) };
  for (const [lane, batches] of byLane) {
    const last = batches.at(-1);
    if (last) cut[lane] = { seq: last.seq, digest: last.digest };
  }
  const merged = mergeLanes(byLane.values());
  const commits: Commit[] = merged.map((n) => ({
    time: n.time,
    writer: n.lane,
    seq: n.seq,
    key: n.key,
    records: read.get(n.key)!.records,
    storedBytes: undefined,
  }));
  const located = new Map<string, StoredBlob>();
  for (const n of merged) for (const b of read.get(n.key)!.blobs) if (!located.has(b.id)) located.set(b.id, b);
  return { view, commits, located, cut, checkpoints };
}

/**
 * Stores the kept history as lane `lane` (no `lane` object yet: nobody reads it before its base names it), each
 * blob located in the first batch that needs it, the spare locations in the last; returns the last batch.
 */
async function writeHistoryLane(
  repo: RepositoryV2,
  lane: string,
  groups: { time: number; records: IndexRecord[] }[],
  spare: readonly StoredBlob[],
  where: (id: string) => StoredBlob,
  o: { now: number; perBatch: number },
): Promise<{ seq: number; digest: string } | null> {
  const seen = new Set<string>();
  const batches = groups.map((group) => {
    const blobs: StoredBlob[] = [];
    for (const r of group.records) {
      if (r.op !== "put" || r.type !== "file") continue;
      for (const id of r.chunks) {
        if (seen.has(id)) continue;
        seen.add(id);
        blobs.push(where(id));
      }
    }
    return { time: group.time, records: group.records, blobs };
  });
  // Spare locations follow, in batches of their own at the last kept commit's time, so that no batch grows past
  // what a reader accepts (MAX_BATCH_BYTES) however many there are.
  const rest = spare.filter((b) => !seen.has(b.id));
  for (let i = 0; i < rest.length; i += o.perBatch) batches.push({ time: groups.at(-1)?.time ?? o.now, records: [], blobs: rest.slice(i, i + o.perBatch) });
  let last: { seq: number; digest: string } | null = null;
  for (let i = 0; i < batches.length; i++) {
    const { time, records, blobs } = batches[i]!;
    const { body, digest } = encodeLaneBatch({ lane, seq: i, time, prev: last?.digest ?? null }, blobs, records, repo.cipher);
    await repo.storage.put(repo.prefix + laneBatchKey(lane, i, time, digest), body, body.length);
    last = { seq: i, digest };
  }
  await repo.storage.sync?.();
  return last;
}

/**
 * The kept history as batches: one per original commit that kept anything, in commit order, deletions of a commit
 * before its puts (what a commit deleted and put again is a put, so the order only matters beneath a deleted
 * directory). A moved-in version is written as a put of the entry where it arrived.
 */
function historyBatches(kept: readonly Version[], deletions: readonly Version[]): { time: number; records: IndexRecord[] }[] {
  const byCommit = new Map<string, { time: number; writer: string; seq: number; deletes: IndexRecord[]; puts: IndexRecord[] }>();
  const group = (v: Version) => {
    const k = `${v.time}\u0000${v.writer}\u0000${v.seq}`;
    let g = byCommit.get(k);
    if (!g) byCommit.set(k, (g = { time: v.time, writer: v.writer, seq: v.seq, deletes: [], puts: [] }));
    return g;
  };
  for (const v of deletions) group(v).deletes.push({ op: "delete", path: v.path });
  for (const v of kept) group(v).puts.push({ op: "put", ...v.entry!, path: v.path });
  return [...byCommit.values()]
    .sort((a, b) => a.time - b.time || (a.writer < b.writer ? -1 : a.writer > b.writer ? 1 : a.seq - b.seq))
    .map((g) => ({ time: g.time, records: [...g.deletes, ...g.puts] }));
}

/** Refuses credentials that cannot delete before anything is written (B2 says by its key's capabilities; others are probed). */
async function assertCanDelete(repo: RepositoryV2): Promise<void> {
  const known = await repo.storage.canDelete?.();
  const refuse = (why: string): never => {
    throw new BackupError("STORAGE_DENIED", `prune needs credentials that may delete objects, and ${repo.storage.description} refused: ${why}`);
  };
  if (known === false) refuse("the key has no delete capability (B2: deleteFiles)");
  if (known === true) return;
  try {
    await repo.storage.delete(`${repo.prefix}index/prune-probe-${randomBytes(8).toString("hex")}`);
  } catch (err) {
    if (err instanceof StorageError || isErrno(err, "EACCES", "EPERM", "EROFS")) refuse((err as Error).message);
    throw err;
  }
}

/** After a base is stored: what it supersedes, and packs found unneeded a grace period ago and unneeded still. */
async function deleteSuperseded(
  repo: RepositoryV2,
  o: { base: Base; baseKey: string; packs: PackPlan; lane: string; graceMs: number; now: number; checkpoints: readonly CheckpointName[] },
): Promise<PruneReport["deleted"]> {
  const deleted = { batches: 0, packs: 0, bases: 0, checkpoints: 0 };
  const del = async (key: string) => repo.storage.delete(repo.prefix + key);
  const { described, batches } = await repo.laneListing();
  const retired = new Set(o.base.pruneLanes.filter((l) => l !== o.lane));
  // A lane a prune marked as being written that no base names is what a killed prune left.
  const markers = new Set<string>();
  for await (const info of repo.storage.list(`${repo.prefix}index/pruning/`)) markers.add(info.key.slice(info.key.lastIndexOf("/") + 1));
  for (const [lane, names] of batches) {
    if (lane === o.lane) continue;
    const cut = o.base.cut[lane];
    // A lane's cut batch stays (its writer checks that its last batch is stored), unless prune wrote the lane.
    const orphan = markers.has(lane) && !cut && !described.has(lane);
    for (const n of names) {
      if ((cut && (n.seq < cut.seq || (retired.has(lane) && n.seq === cut.seq))) || orphan) {
        await del(n.key);
        deleted.batches++;
      }
    }
    if (retired.has(lane) && described.has(lane)) await del(laneKey(lane));
  }
  for (const b of await repo.bases()) {
    if (b.key === o.baseKey) continue;
    await del(b.key);
    deleted.bases++;
  }
  for (const c of o.checkpoints) {
    await del(c.key);
    deleted.checkpoints++;
  }
  for (const pack of o.packs.dead) {
    await del(packKey(pack));
    deleted.packs++;
  }
  for (const lane of markers) if (lane !== o.lane) await del(pruningKey(lane));
  await del(pruningKey(o.lane));
  return deleted;
}
