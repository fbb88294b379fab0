import { BackupError, messageOf, type IndexDamagedError } from "../errors.js";
import { brokenEntries } from "../repository/v2/treeSink.js";
import { mergeTreeV2 } from "../repository/v2/readTreeV2.js";
import type { RepositoryV2 } from "../repository/v2/RepositoryV2.js";
import { TreeSpill } from "../repository/v2/treeSpill.js";
import { treeDamage, type ChunkSource, type LoadTreeOptions } from "./loadTree.js";
import { PackedChunks } from "./PackedChunks.js";

/** A v2 tree merged on disk for a restore: read it with `selectFromSpill`, then close it. */
export interface SpilledTree {
  readonly spill: TreeSpill;
  /** As `loadTree`'s: each lane's damage, and each file whose content the index cannot give (left out). */
  readonly damage: IndexDamagedError[];
  /** Time of the newest batch applied (ms since the epoch; 0 for an empty index). */
  readonly time: number;
  /** The content of its entries, located through the spill's blob table. */
  readonly chunks: ChunkSource;
  /** Removes the spill. */
  close(): Promise<void>;
}

/**
 * `loadTree` for a v2 repository without the tree in memory: the merge goes into a {@link TreeSpill} in a scratch
 * directory under the first of `directories` where one can be made (mode 0700: it holds decrypted index data;
 * removed by `close`, or by the next spill if this process is killed). Damage is handled as `loadTree` handles it: with `salvage` it is listed and the rest is
 * there, else the first is thrown (after the spill is removed).
 */
export async function spillTreeV2(repo: RepositoryV2, directories: readonly string[], options: LoadTreeOptions = {}): Promise<SpilledTree> {
  const spill = openSpill(directories);
  try {
    const merged = await mergeTreeV2(repo, spill, { ...(options.at === undefined ? {} : { at: options.at }), salvage: options.salvage === true });
    const broken = brokenEntries(spill);
    if (broken.length) spill.write(() => broken.forEach((b) => spill.drop(b.path)));
    const damage = treeDamage(merged.damage, broken, options.salvage === true);
    if (damage.length > 0 && !options.salvage) throw damage[0];
    const locations = { get: (id: string) => spill.blob(id) };
    return { spill, damage, time: merged.time, chunks: new PackedChunks(repo, locations), close: () => spill.close() };
  } catch (err) {
    await spill.close();
    throw err;
  }
}

/** A spill under the first of `directories` that takes one; a STATE_CACHE error naming each, if none does. */
function openSpill(directories: readonly string[]): TreeSpill {
  const failures: string[] = [];
  for (const directory of directories) {
    try {
      return TreeSpill.open(directory);
    } catch (err) {
      failures.push(`${directory} (${messageOf(err)})`);
    }
  }
  throw new BackupError("STATE_CACHE", `no scratch tree can be made for the restore in ${failures.join(" or ")}: set IndexCachePath to a writable directory`);
}
