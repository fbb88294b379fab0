import { BackupError } from "../../errors.js";
import type { FileEntry } from "../../types.js";
import { applyRecord } from "../format.js";
import { checkLane, mergeLanes, type LaneBatchName, type LaneDamage } from "./lanes.js";
import type { StoredBlob } from "./PackStore.js";
import type { RepositoryV2 } from "./RepositoryV2.js";

/** The tree of a v2 repository at one moment, with where every blob it names is. */
export interface TreeV2 {
  readonly entries: Map<string, FileEntry>;
  readonly blobs: Map<string, StoredBlob>;
  /** What was wrong with a lane (a gap, a broken chain): the batches before it were applied. */
  readonly damage: LaneDamage[];
}

/**
 * Reads every lane (docs/format-v2.md "Merging lanes"): each lane's batches checked (sequence, `prev` chain, time),
 * then all lanes' batches applied in one order, batch time then lane id then sequence number, so the later commit
 * of a path wins. `at` keeps only batches committed at or before that time. A lane is applied up to its first
 * damage. A file that names a blob no batch located, or whose size is not the sum of its blobs, is an error.
 */
export async function readTreeV2(repo: RepositoryV2, options: { at?: number } = {}): Promise<TreeV2> {
  const damage: LaneDamage[] = [];
  const usable: LaneBatchName[][] = [];
  const read = new Map<string, Awaited<ReturnType<RepositoryV2["readBatch"]>>>();
  for (const lane of await repo.lanes()) {
    const names = (await repo.laneBatches(lane)).filter((n) => options.at === undefined || n.time <= options.at);
    const batches = [];
    for (const name of names) {
      const batch = await repo.readBatch(name);
      read.set(name.key, batch);
      batches.push({ name, prev: batch.prev });
    }
    const problems = checkLane(batches);
    damage.push(...problems);
    const stop = problems.length > 0 ? Math.min(...problems.map((p) => p.seq)) : Infinity;
    usable.push(names.filter((n) => n.seq < stop));
  }
  const entries = new Map<string, FileEntry>();
  const blobs = new Map<string, StoredBlob>();
  for (const name of mergeLanes(usable)) {
    const batch = read.get(name.key)!;
    for (const blob of batch.blobs) if (!blobs.has(blob.id)) blobs.set(blob.id, blob);
    for (const record of batch.records) applyRecord(entries, record);
  }
  for (const entry of entries.values()) {
    if (entry.type !== "file") continue;
    let size = 0;
    for (const id of entry.chunks) {
      const blob = blobs.get(id);
      if (!blob) throw new BackupError("INDEX_DAMAGED", `${entry.path} names blob ${id}, which no batch locates`);
      size += blob.size;
    }
    if (size !== entry.size) throw new BackupError("INDEX_DAMAGED", `${entry.path}: its blobs hold ${size} bytes, the index says ${entry.size}`);
  }
  return { entries, blobs, damage };
}

/** A file's content: its blobs in order, each one ranged read, verified. */
export async function readFileV2(repo: RepositoryV2, tree: TreeV2, entry: FileEntry): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const id of entry.chunks) parts.push(await repo.packs.read(tree.blobs.get(id)!));
  return Buffer.concat(parts);
}
