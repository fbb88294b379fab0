import type { Logger } from "../../logger.js";
import type { LaneState, StateCache } from "../../state/StateCache.js";
import type { BaseName } from "./base.js";
import { readTreeV2 } from "./readTreeV2.js";
import type { RepositoryV2 } from "./RepositoryV2.js";

/**
 * Takes a base a prune wrote since this cache last looked (docs/history.md "Prune") without reading every file
 * again: when the cache applied every lane at least up to the base's cut, its tree is the tree under the base (a
 * prune keeps every current version), and only what may be deduplicated against changes: the chunks the tree
 * locates in listed packs that the base does not mark for deletion. Returns the lane state to go on from, or
 * undefined when the cache missed superseded batches of another writer (the caller rebuilds it).
 */
export async function adoptBase(repo: RepositoryV2, cache: StateCache, known: LaneState, name: BaseName, log?: Logger): Promise<LaneState | undefined> {
  const base = await repo.readBase(name);
  const retired = new Set(base.pruneLanes);
  for (const [lane, cut] of Object.entries(base.cut)) if (!retired.has(lane) && (known.applied[lane] ?? -1) < cut.seq) return undefined;
  const tree = await readTreeV2(repo);
  const packs = new Set<string>();
  for await (const pack of repo.packs.list()) packs.add(pack.id);
  const doomed = new Set(base.candidates);
  await cache.noticeBase(name.key);
  await cache.addChunks([...tree.blobs.values()].filter((b) => packs.has(b.pack) && !doomed.has(b.pack)).map((b) => b.id));
  const applied = { ...known.applied };
  if (base.last) applied[base.lane] = base.last.seq;
  const state: LaneState = { ...known, applied };
  await cache.setLane(state);
  log?.info(`took prune base ${name.key} into account (${doomed.size} pack(s) it may delete are not deduplicated against)`);
  return state;
}
