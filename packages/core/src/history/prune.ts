import { randomBytes } from "node:crypto";
import { BackupError, StorageError, isErrno } from "../errors.js";
import { packKey, type StoredBlob } from "../repository/v2/PackStore.js";
import type { RepositoryV2 } from "../repository/v2/RepositoryV2.js";
import { encodeLaneBatch } from "../repository/v2/laneBatch.js";
import { laneBatchKey, laneKey } from "../repository/v2/lanes.js";
import type { Base } from "../repository/v2/base.js";
import type { CheckpointName } from "../repository/v2/laneBatch.js";
import type { IndexRecord } from "../types.js";
import { defaultCacheDirectory } from "./cacheDirectory.js";
import type { RetentionPolicy, Verdict } from "./retention.js";
import { planPacks, type PackPlan } from "./prunePacks.js";
import { planKept, type RetentionCounts } from "./prunePlan.js";
import { scanHistory, type CommitPlace } from "./pruneScan.js";
import { blobKey, PruneScratch } from "./pruneScratch.js";
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
  /** Lines past which a kept commit is split over batches of the same time (default 100,000). */
  readonly linesPerBatch?: number;
  /** Go on although another prune's marker says it may be running (it was killed on another host). */
  readonly force?: boolean;
  /** Told each step as it starts (logging; tests kill the process at one). */
  readonly onStep?: (step: string) => void | Promise<void>;
  /** Told the verdict on each version (with its entry), path after path, before anything is written. */
  readonly onVerdict?: (verdict: Verdict) => void;
  /** Where the prune's scratch store goes (a directory of its own under it; default: the user's cache directory). */
  readonly scratchDirectory?: string;
}

/** What a prune did (or, dry, would do). */
export interface PruneReport {
  readonly versions: RetentionCounts;
  readonly packs: PackPlan;
  readonly commits: { readonly read: number; readonly written: number };
  readonly deleted: { readonly batches: number; readonly packs: number; readonly bases: number; readonly checkpoints: number };
  readonly base: string | undefined;
  readonly dryRun: boolean;
}

export const DEFAULT_GRACE_MS = 24 * 3_600_000;

/** Spare blob locations per batch of a prune's lane (about 10 MiB of lines). */
const SPARE_PER_BATCH = 50_000;
/** Lines (records and blob locations) past which a kept commit is split over several batches of the same time. */
const LINES_PER_BATCH = 100_000;
/** Blobs repacked between two flushes of the pack store (whose new locations then go to the scratch store). */
const REPACK_PER_FLUSH = 10_000;

/**
 * Applies a retention policy to a v2 repository (docs/history.md "Prune"): every version the policy keeps is written
 * again, at its commit time, into a new lane; a base then says that this lane supersedes every batch read; only
 * after that are superseded batches, older bases and checkpoints, and packs an earlier prune found unneeded (at least
 * `graceMs` ago, and still unneeded) deleted. A kill at any point leaves a repository that reads as before the prune
 * or as after it. Refuses an index with damage, a key that cannot read, and credentials that cannot delete.
 */
export async function prune(repo: RepositoryV2, options: PruneOptions): Promise<PruneReport> {
  if (!repo.cipher.canRead) throw new BackupError("KEY_MISSING", "prune reads the whole index: it needs the repository's master key, not a writer key");
  const scratch = PruneScratch.open(options.scratchDirectory ?? defaultCacheDirectory());
  try {
    return await pruneWith(repo, scratch, options);
  } finally {
    await scratch.close();
  }
}

async function pruneWith(repo: RepositoryV2, scratch: PruneScratch, options: PruneOptions): Promise<PruneReport> {
  const now = options.now ?? Date.now();
  const step = async (s: string) => options.onStep?.(s);
  await step("read");
  const { view, commits, cut, checkpoints } = await scanHistory(repo, scratch);
  const versions = planKept(scratch, commits, { policy: options.policy, now, onVerdict: options.onVerdict });
  const previous = view.base;
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const packs = await planPacks(repo, scratch, { previous, previousTime: view.baseName?.time, now, graceMs, repackBelow: options.repackBelow ?? 0.5 });
  const report = (written: number, deleted: PruneReport["deleted"], base?: string): PruneReport => ({
    versions,
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
  await repack(repo, scratch, packs.repack);

  await step("history");
  const last = await writeHistoryLane(repo, scratch, lane, commits, {
    now,
    perBatch: options.locationsPerBatch ?? SPARE_PER_BATCH,
    lines: options.linesPerBatch ?? LINES_PER_BATCH,
    dead: packs.dead,
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

/** Writes the needed blobs of `packs` into new packs (each old pack read once), and records where each went. */
async function repack(repo: RepositoryV2, scratch: PruneScratch, packs: ReadonlySet<string>): Promise<void> {
  if (packs.size === 0) return;
  let queued: StoredBlob[] = [];
  const queue = () => {
    const blobs = queued;
    queued = [];
    scratch.write(() => {
      for (const b of blobs) scratch.queueRepack(b);
    });
  };
  for (const { key } of scratch.needed.getRange({ snapshot: false })) {
    const b = scratch.location(key)!;
    if (packs.has(b.pack)) queued.push(b);
    if (queued.length >= REPACK_PER_FLUSH) queue();
  }
  queue();
  const relocate = async () => {
    const stored = await repo.packs.flush();
    scratch.write(() => {
      for (const b of stored) scratch.locate(b, true);
    });
  };
  let unflushed = 0;
  for (const blobs of scratch.repackQueue()) {
    const bytes = await repo.packs.readMany(blobs[0]!.pack, blobs);
    for (let i = 0; i < blobs.length; i++) await repo.packs.add(blobs[i]!.id, bytes[i]!, true);
    unflushed += blobs.length;
    if (unflushed >= REPACK_PER_FLUSH) {
      await relocate();
      unflushed = 0;
    }
  }
  await relocate();
}

/**
 * Stores the kept history as lane `lane` (no `lane` object yet: nobody reads it before its base names it): a batch
 * per original commit that kept anything, in commit order, its deletions before its puts (what a commit deleted and
 * put again is a put, so the order only matters beneath a deleted directory), a moved-in version written as a put of
 * the entry where it arrived. Each blob is located in the first batch that needs it; blobs located but needed by no
 * kept version follow while their pack is stored (an agent may have named one since, deduplicated, in a batch this
 * prune did not read; a later prune deletes what is still unneeded). Returns the last batch.
 */
async function writeHistoryLane(
  repo: RepositoryV2,
  scratch: PruneScratch,
  lane: string,
  commits: readonly CommitPlace[],
  o: { now: number; perBatch: number; lines: number; dead: ReadonlySet<string> },
): Promise<{ seq: number; digest: string } | null> {
  let last: { seq: number; digest: string } | null = null;
  const store = async (time: number, blobs: readonly StoredBlob[], records: readonly IndexRecord[]) => {
    const seq = last ? last.seq + 1 : 0;
    const { body, digest } = encodeLaneBatch({ lane, seq, time, prev: last?.digest ?? null }, blobs, records, repo.cipher);
    await repo.storage.put(repo.prefix + laneBatchKey(lane, seq, time, digest), body, body.length);
    last = { seq, digest };
  };
  let lastTime: number | undefined;
  let group: { order: number; records: IndexRecord[]; blobs: StoredBlob[]; lines: number; located: Set<string> } | undefined;
  const close = async () => {
    if (!group) return;
    const { order, records, blobs, located } = group;
    group = undefined;
    lastTime = commits[order]!.time;
    await store(lastTime, blobs, records);
    scratch.write(() => {
      for (const id of located) scratch.needed.putSync(blobKey(id), 2);
    });
  };
  for (const { key, value } of scratch.kept.getRange({ snapshot: false })) {
    const order = key.readUInt32BE(0);
    if (group && (group.order !== order || group.lines >= o.lines)) await close();
    group ??= { order, records: [], blobs: [], lines: 0, located: new Set() };
    const [path, id] = value;
    const record: IndexRecord = id === null ? { op: "delete", path } : ({ op: "put", path, ...scratch.entries.get(id)! } as IndexRecord);
    group.records.push(record);
    group.lines++;
    if (record.op !== "put" || record.type !== "file") continue;
    for (const c of record.chunks) {
      if (group.located.has(c) || scratch.needed.get(blobKey(c)) === 2) continue;
      group.located.add(c);
      group.blobs.push(scratch.location(c)!);
      group.lines++;
    }
  }
  await close();
  // Spare locations follow in batches of their own at the last kept commit's time, so that no batch grows past
  // what a reader accepts (MAX_BATCH_BYTES) however many there are.
  let spare: StoredBlob[] = [];
  for (const b of scratch.locations()) {
    if (o.dead.has(b.pack) || scratch.needed.get(blobKey(b.id)) !== undefined) continue;
    spare.push(b);
    if (spare.length < o.perBatch) continue;
    await store(lastTime ?? o.now, spare, []);
    spare = [];
  }
  if (spare.length > 0) await store(lastTime ?? o.now, spare, []);
  await repo.storage.sync?.();
  return last;
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
