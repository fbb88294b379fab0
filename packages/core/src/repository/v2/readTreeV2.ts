import { BackupError, messageOf } from "../../errors.js";
import type { FileEntry } from "../../types.js";
import { isDamage } from "../journal.js";
import { streamCheckpointV2 } from "./checkpointStream.js";
import type { CheckpointHeader, CheckpointName } from "./laneBatch.js";
import { checkLane, compareLaneBatches, mergeLanes, type LaneBatchName, type LaneDamage } from "./lanes.js";
import type { StoredBlob } from "./PackStore.js";
import type { RepositoryV2 } from "./RepositoryV2.js";
import type { LaneView } from "./base.js";
import { readIndexView } from "./indexView.js";
import { brokenEntries, MapTree, type BatchBodies, type TreeSink } from "./treeSink.js";

/** The tree of a v2 repository at one moment, with where every blob it names is. */
export interface TreeV2 {
  readonly entries: Map<string, FileEntry>;
  readonly blobs: Map<string, StoredBlob>;
  /** What was wrong with a lane (a gap, a broken chain, a batch that cannot be read): the batches before it were applied. */
  readonly damage: LaneDamage[];
  /** Files left out of `entries` because the index cannot give their content (a blob no batch locates, a wrong size). */
  readonly broken: { path: string; message: string }[];
  /** The checkpoint the read started from, if any. */
  readonly checkpoint: CheckpointName | undefined;
  /** The last batch applied of each lane (what a checkpoint of this tree covers). */
  readonly covered: Record<string, number>;
  /** The newest applied batch's time (0 with none). */
  readonly time: number;
}

/**
 * Reads every lane (docs/format-v2.md "Merging lanes"): each lane's batches checked (sequence, `prev` chain, time),
 * then all lanes' batches applied in one order, batch time then lane id then sequence number, so the later commit
 * of a path wins. It starts from the newest usable checkpoint (see {@link usableCheckpoint}). `at` keeps only what
 * was committed at or before that time. A lane is applied up to its first damage (a batch that cannot be read is
 * damage there, not a failure of the whole read); with `salvage`, every readable batch of it is applied. A file that names a blob no batch located, or whose size is not the
 * sum of its blobs, is left out and listed in `broken`; everything else is still there.
 */
export async function readTreeV2(repo: RepositoryV2, options: { at?: number; salvage?: boolean } = {}): Promise<TreeV2> {
  const tree = new MapTree();
  const merged = await mergeTreeV2(repo, tree, options);
  const broken = brokenEntries(tree);
  for (const b of broken) tree.entries.delete(b.path);
  return { entries: tree.entries, blobs: tree.blobs, broken, ...merged };
}

/** What {@link mergeTreeV2} tells besides the tree it built. */
export type MergedTree = Omit<TreeV2, "entries" | "blobs" | "broken">;

/**
 * The merge {@link readTreeV2} does, into any {@link TreeSink}: in memory, or a `TreeSpill` on disk, which builds
 * the tree of a million files in little memory (the checkpoint is read a piece at a time, and the batches wait in
 * the sink until their turn). Files whose content the index cannot give are not left out here:
 * {@link brokenEntries} finds them.
 */
export async function mergeTreeV2(repo: RepositoryV2, tree: TreeSink, options: { at?: number; salvage?: boolean } = {}): Promise<MergedTree> {
  const view = await readIndexView(repo, options.at === undefined ? {} : { at: options.at });
  const listed = new Map([...view.lanes].map(([lane, v]) => [lane, v.names] as const));
  const start = await startFromCheckpoint(repo, view.lanes, options.at, tree);
  const damage: LaneDamage[] = [...view.damage];
  const usable: LaneBatchName[][] = [];
  const covered: Record<string, number> = {};
  for (const [lane, names] of listed) {
    const laneView = view.lanes.get(lane)!;
    const from = Math.max(laneView.from, (start?.lanes[lane] ?? -1) + 1);
    // The first batch after a checkpoint must follow the one it covers (whose digest is in its name); the first
    // after a base's cut, the cut's digest.
    const after = from === laneView.from ? laneView.after : names.find((n) => n.seq === from - 1)?.digest;
    const { batches, problems } = await readLane(repo, names, from, tree.bodies, { salvage: options.salvage === true, ...(after ? { after } : {}) });
    damage.push(...problems);
    // Salvaging, every readable batch counts (later records still hold whole entries); else a lane ends at its damage.
    const stop = problems.length > 0 && !options.salvage ? Math.min(...problems.map((p) => p.seq)) : Infinity;
    const applied = batches.filter((n) => n.seq < stop);
    usable.push(applied);
    const last = applied.at(-1)?.seq ?? from - 1;
    if (last >= 0) covered[lane] = last;
  }
  let time = start?.name.time ?? 0;
  for (const name of mergeLanes(usable)) {
    const batch = tree.bodies.get(name.key)!;
    tree.write(() => {
      for (const blob of batch.blobs) tree.locate(blob);
      for (const record of batch.records) tree.apply(record);
    });
    tree.bodies.delete(name.key);
    time = Math.max(time, name.time);
  }
  return { damage, checkpoint: start?.name, covered, time };
}

/** Batch bodies by key, as {@link readLane} read them. */
export type LaneBatches = Map<string, Awaited<ReturnType<RepositoryV2["readBatch"]>>>;
export type { BatchBodies, TreeSink };

/**
 * Reads one lane's batches numbered `from` on (each verified; bodies kept in `read`) and checks the lane: its
 * readable batches in order, and its damage (a batch that cannot be read, named once and not again as the gap it
 * leaves; gaps, numbers twice, broken chains, times going back; a first batch that does not follow `after`, the
 * digest of the batch before it). Without `salvage` reading stops at the first batch that cannot be read. A batch
 * in `known` (key → its `prev`, from a local cache of batches read and verified before) is checked, not read again.
 */
export async function readLane(
  repo: RepositoryV2,
  names: readonly LaneBatchName[],
  from: number,
  read: Pick<BatchBodies, "set">,
  options: { salvage?: boolean; after?: string; known?: ReadonlyMap<string, string | null> } = {},
): Promise<{ batches: LaneBatchName[]; problems: LaneDamage[] }> {
  const batches: { name: LaneBatchName; prev: string | null }[] = [];
  const unreadable: LaneDamage[] = [];
  for (const name of names.filter((n) => n.seq >= from)) {
    const prev = options.known?.get(name.key);
    if (prev !== undefined) {
      batches.push({ name, prev });
      continue;
    }
    try {
      const batch = await repo.readBatch(name);
      read.set(name.key, batch);
      batches.push({ name, prev: batch.prev });
    } catch (err) {
      if (!isDamage(err)) throw err;
      const message = `lane ${name.lane} batch ${name.seq} (${name.key}) cannot be read: ${messageOf(err)}`;
      unreadable.push({ kind: "unreadable", lane: name.lane, seq: name.seq, message });
      if (!options.salvage) break;
    }
  }
  const problems = [...unreadable, ...checkLane(batches, from).filter((p) => !(p.kind === "gap" && unreadable.some((u) => u.seq === p.seq - 1)))];
  const notAfter = afterProblem(batches, from, options.after);
  if (notAfter) problems.unshift(notAfter);
  return { batches: batches.map((b) => b.name), problems };
}

/**
 * A lane read from `from` under a base: its batch `from` must name `after` (the digest of the cut batch before it)
 * as its `prev`, or the lane does not follow the base. Undefined when it does, or when there is no such batch.
 */
export function afterProblem(
  batches: readonly { name: LaneBatchName; prev: string | null }[],
  from: number,
  after: string | undefined,
): LaneDamage | undefined {
  const first = batches.find((b) => b.name.seq === from);
  if (!after || !first || first.prev === after) return undefined;
  const message = `lane ${first.name.lane} batch ${from} does not follow batch ${from - 1} (its prev is ${first.prev})`;
  return { kind: "chain", lane: first.name.lane, seq: from, message };
}

/**
 * Reads every lane of an index view with {@link readLane} (each from its `from`, its first batch following `after`):
 * the readable batches of each lane in order, the bodies of those not `known`, and every lane's damage.
 */
export async function readViewLanes(
  repo: RepositoryV2,
  lanes: ReadonlyMap<string, LaneView>,
  options: { salvage?: boolean; known?: ReadonlyMap<string, string | null> } = {},
): Promise<{ byLane: Map<string, LaneBatchName[]>; read: LaneBatches; problems: LaneDamage[] }> {
  const byLane = new Map<string, LaneBatchName[]>();
  const read: LaneBatches = new Map();
  const problems: LaneDamage[] = [];
  for (const [lane, { names, from, after }] of lanes) {
    const r = await readLane(repo, names, from, read, {
      salvage: options.salvage === true,
      ...(after ? { after } : {}),
      ...(options.known ? { known: options.known } : {}),
    });
    byLane.set(lane, r.batches);
    problems.push(...r.problems);
  }
  return { byLane, read, problems };
}

/**
 * Starts `tree` from the newest checkpoint (at or before `at`) a reader may start from: every batch it covers is
 * still listed (the lane's batch at the covered number is there), and every batch it does not cover comes after all
 * it covers in the merge order, so that starting from it gives the same tree as reading every batch. Its header
 * decides that before the rest is inflated. One that cannot be read or is damaged is forgotten (what it had put in
 * `tree` is cleared) for the one before it.
 */
async function startFromCheckpoint(repo: RepositoryV2, lanes: ReadonlyMap<string, LaneView>, at: number | undefined, tree: TreeSink) {
  const candidates = (await repo.checkpoints()).filter((c) => at === undefined || c.time <= at).reverse();
  for (const name of candidates) {
    let header: CheckpointHeader | undefined;
    try {
      const bytes = await repo.checkpointBytes(name);
      const read = await streamCheckpointV2(name, bytes, repo.cipher, {
        header: (h) => {
          if (!usable(h, lanes)) return false;
          header = h;
          return true;
        },
        part: (p) =>
          tree.write(() => {
            for (const b of p.blobs) tree.locate(b);
            for (const e of p.entries) tree.put(e);
          }),
      });
      if (read && header) return { name, lanes: header.lanes };
    } catch {
      // Unreadable or damaged: an older checkpoint, or none.
    }
    if (header) tree.clear();
  }
  return undefined;
}

/** Whether a checkpoint whose header is `header` may be started from, given the lanes a reader applies. */
function usable(header: CheckpointHeader, lanes: ReadonlyMap<string, LaneView>): boolean {
  const coveredNames: LaneBatchName[] = [];
  for (const [lane, seq] of Object.entries(header.lanes)) {
    const view = lanes.get(lane);
    const batch = view?.names.find((n) => n.seq === seq);
    // Covering a lane up to a base's cut (and no further) is covering nothing of it that a reader applies.
    if (batch) coveredNames.push(batch);
    else if (!(view && view.after !== undefined && seq === view.from - 1)) return false;
  }
  // Every lane the base left must be covered (an older checkpoint does not know the base's own lane).
  for (const [lane, view] of lanes) if (view.names.length > 0 && header.lanes[lane] === undefined && view.from > 0) return false;
  const lastCovered = mergeLanes([coveredNames]).at(-1);
  const uncovered = [...lanes].flatMap(([lane, view]) => view.names.filter((n) => n.seq > (header.lanes[lane] ?? -1)));
  return !(lastCovered && uncovered.some((n) => compareLaneBatches(n, lastCovered) < 0));
}

/** A file's content: its blobs in order, each one ranged read, verified. */
export async function readFileV2(repo: RepositoryV2, tree: TreeV2, entry: FileEntry): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const id of entry.chunks) parts.push(await readBlobV2(repo, tree, id));
  return Buffer.concat(parts);
}

/** Where blobs are: a Map of a tree in memory, or a tree's blob table on disk. */
export interface BlobLocations {
  get(id: string): StoredBlob | undefined;
}

/** One blob of the tree, by a ranged read of its pack, verified; a blob the tree does not locate is an error. */
export function readBlobV2(repo: RepositoryV2, tree: { readonly blobs: BlobLocations }, id: string): Promise<Buffer> {
  const blob = tree.blobs.get(id);
  if (!blob) return Promise.reject(new BackupError("INDEX_DAMAGED", `blob ${id} is not located by any index batch`));
  return repo.packs.read(blob);
}
