import { IndexDamagedError, messageOf } from "../errors.js";
import { applyRecord } from "../repository/format.js";
import { isDamage, readJournal } from "../repository/journal.js";
import { isV2, type AnyRepository } from "../repository/openRepository.js";
import type { Repository } from "../repository/Repository.js";
import { readTreeV2 } from "../repository/v2/readTreeV2.js";
import { PackedChunks } from "./PackedChunks.js";
import type { RepositoryV2 } from "../repository/v2/RepositoryV2.js";
import type { StoredBlob } from "../repository/v2/PackStore.js";
import type { FileEntry } from "../types.js";

/** Where a restore gets the verified bytes of a content id (a v1 object, or a v2 blob by one ranged read). */
export interface ChunkSource {
  getChunk(id: string): Promise<Buffer>;
  /** Told, before a restore, every content id it will ask for (in any order, repeats counted), to read ahead. */
  plan?(ids: Iterable<string>): void;
}

/** The backed-up tree as of some moment. */
export interface TreeView {
  /** path → entry. */
  entries: Map<string, FileEntry>;
  /** The last batch applied (-1 for an empty index); v2, whose lanes number their own batches: batches applied, minus one. */
  sequence: number;
  /** Time of that batch (ms since the epoch; 0 for an empty index). */
  time: number;
  /** Batches read (checkpoint excluded). */
  batchesRead: number;
  /**
   * Damage met and worked around: a checkpoint that could not be read or disagrees with its batches (the tree was
   * rebuilt from an older one or from the batches, so it is still complete), and with `salvage` also gaps, unreadable
   * batches and refused records (skipped: the tree is then the best known state, and entries a lost batch or record
   * changed, moved or deleted may be stale), and replaced batches that are no longer stored.
   */
  damage: IndexDamagedError[];
  /** The content of this tree's entries, read through the repository the tree was loaded from. */
  chunks: ChunkSource;
  /** v2: where each blob the tree names is (its pack, offset and length). */
  blobs?: ReadonlyMap<string, StoredBlob>;
}

/** The content of `tree`'s entries read through `repo` (the same repository, opened on another backend). */
export function contentOf(repo: AnyRepository, tree: TreeView): ChunkSource {
  if (!isV2(repo)) return repo;
  return new PackedChunks(repo, tree.blobs ?? new Map<string, StoredBlob>());
}

/** Options of {@link loadTree}. */
export interface LoadTreeOptions {
  /** Point in time (ms since the epoch): the tree as of then. Default: now. */
  at?: number;
  /** Restore what can be restored: report gaps and unreadable batches in `damage` and go on, instead of throwing. */
  salvage?: boolean;
}

/**
 * Reads the tree from the remote index alone: the newest readable checkpoint at or before `at`, then the batches
 * after it up to `at`, every batch of each sequence number in journal order except those a later batch replaces.
 * Every object is verified as it is read. A checkpoint that cannot be read, or that disagrees with the batches under
 * its number (none stored, or one newer than its time), falls back to an older one or to the batches (listed in
 * `damage`); a corrupt or missing batch, or a gap, is an INDEX_DAMAGED error naming it, or with `salvage` one more
 * entry in `damage` while the rest is applied (as is a refused record: the rest of its batch is applied).
 */
export async function loadTree(repo: AnyRepository, options: LoadTreeOptions = {}): Promise<TreeView> {
  return isV2(repo) ? loadTreeV2(repo, options) : loadTreeV1(repo, options);
}

/**
 * A v2 tree (docs/format-v2.md "Merging lanes") as a {@link TreeView}: each lane's damage, and each file whose content
 * the index cannot give, is an entry in `damage` with `salvage` (the rest is there), else an error.
 */
async function loadTreeV2(repo: RepositoryV2, options: LoadTreeOptions): Promise<TreeView> {
  const tree = await readTreeV2(repo, { ...(options.at === undefined ? {} : { at: options.at }), salvage: options.salvage === true });
  const damage = treeDamage(tree.damage, tree.broken, options.salvage === true);
  if (damage.length > 0 && !options.salvage) throw damage[0];
  return {
    entries: tree.entries,
    sequence: Object.values(tree.covered).reduce((a, b) => a + b + 1, 0) - 1,
    time: tree.time,
    batchesRead: 0,
    damage,
    chunks: new PackedChunks(repo, tree.blobs),
    blobs: tree.blobs,
  };
}

/** A v2 tree's damage as errors: each lane's (the rest of the lane applied, with `salvage`), and each broken file. */
export function treeDamage(lanes: readonly { message: string }[], broken: readonly { message: string }[], salvage: boolean): IndexDamagedError[] {
  return [
    ...lanes.map((d) => new IndexDamagedError(salvage ? `${d.message}; the rest of the lane is applied` : d.message)),
    ...broken.map((b) => new IndexDamagedError(`${b.message}; it is left out`)),
  ];
}

async function loadTreeV1(repo: Repository, options: LoadTreeOptions): Promise<TreeView> {
  const at = options.at ?? Number.POSITIVE_INFINITY;
  const damage: IndexDamagedError[] = [];
  // The newest readable checkpoint at or before `at` that agrees with the batches stored under its number; a damaged
  // one falls back to the one before, then to the batches (which a checkpoint only summarises), so the tree stays
  // complete.
  const checkpoints = (await repo.listCheckpoints()).filter((c) => c.time <= at);
  const fallback = (i: number) => (i > 0 ? `the one before (${checkpoints[i - 1]!.key})` : "the batches from the first");
  // i = -1: no checkpoint, the batches from the first (always a starting point).
  for (let i = checkpoints.length - 1; ; i--) {
    const checkpoint = i >= 0 ? checkpoints[i]! : undefined;
    const entries = new Map<string, FileEntry>();
    if (checkpoint) {
      try {
        for await (const entry of repo.readCheckpoint(checkpoint)) entries.set(entry.path, entry);
      } catch (err) {
        if (!isDamage(err)) throw err;
        damage.push(
          new IndexDamagedError(`checkpoint ${checkpoint.key} cannot be read (${messageOf(err)}); the tree is rebuilt from ${fallback(i)}`, {
            cause: err,
            key: checkpoint.key,
          }),
        );
        continue;
      }
    }
    const found: IndexDamagedError[] = [];
    const journal = await readJournal(repo, {
      after: checkpoint?.seq ?? -1,
      at,
      ...(checkpoint ? { anchor: checkpoint } : {}),
      ...(options.salvage ? { onDamage: (d: IndexDamagedError) => void found.push(d) } : {}),
    });
    if (journal.anchorProblem) {
      damage.push(new IndexDamagedError(`${journal.anchorProblem}; the tree is rebuilt from ${fallback(i)}`, { key: checkpoint!.key }));
      continue;
    }
    damage.push(...found);
    let sequence = checkpoint?.seq ?? -1;
    let time = checkpoint?.time ?? 0;
    let batchesRead = 0;
    // Every batch of a sequence number counts (several writers), in journal order; replaced batches are skipped.
    for (const { name, records } of journal.batches) {
      if (journal.replaced.has(name.key)) continue;
      for (const record of records) applyRecord(entries, record);
      sequence = name.seq;
      time = Math.max(time, name.time);
      batchesRead++;
    }
    return { entries, sequence, time, batchesRead, damage, chunks: repo };
  }
}
