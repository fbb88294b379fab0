import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { IndexDamagedError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { LaneState, StateCache } from "../../state/StateCache.js";
import type { FileEntry } from "../../types.js";
import type { SyncResult } from "../syncState.js";
import { mergeLanes, type LaneBatchName } from "./lanes.js";
import { mergeTreeV2, readLane, type LaneBatches, type MergedTree } from "./readTreeV2.js";
import type { StoredBlob } from "./PackStore.js";
import { brokenEntries } from "./treeSink.js";
import { TreeSpill } from "./treeSpill.js";
import type { RepositoryV2 } from "./RepositoryV2.js";
import { adoptBase } from "./adoptBase.js";
import { readIndexView } from "./indexView.js";

async function* each(entries: Iterable<FileEntry>, keep: (e: FileEntry) => boolean = () => true): AsyncIterable<FileEntry> {
  for (const e of entries) if (keep(e)) yield e;
}

/**
 * Brings the state cache in line with a v2 repository. A cache of another repository (or none) is rebuilt from the
 * merged tree of every lane, and this writer gets a new lane of its own (its `lane` object names the host); blobs
 * count as stored only when their pack is listed. A known cache applies the batches of every lane past the ones it
 * applied, in merge order (its own included: a batch a crash left in flight that did reach the store). This writer's
 * own last batch no longer listed, or damage in its own lane, is an INDEX_DAMAGED error (nothing is written on top);
 * damage in another writer's lane is logged and that lane applied up to it.
 */
export async function syncLaneState(repo: RepositoryV2, cache: StateCache, log?: Logger): Promise<SyncResult> {
  const known = cache.lane;
  if (cache.repositoryId !== repo.config.id || !known) return rebuild(repo, cache, log);
  let state: LaneState = known;
  // One listing of the lanes and bases serves the whole sync.
  const view = await readIndexView(repo);
  const own = view.listing.batches.get(state.lane) ?? [];
  if (state.last && !own.some((n) => n.key === state.last!.key)) {
    throw new IndexDamagedError(`this agent's last index batch ${state.last.key} is no longer in the store: the index lost what this agent committed`, {
      key: state.last.key,
    });
  }
  // A prune since this cache last looked: taken into account as it is, or, when it superseded batches this cache
  // never applied, by reading the tree again from the base (this writer keeps its lane either way).
  const newest = view.listing.bases.at(-1);
  if (newest?.key !== cache.knownBase) {
    const adopted = newest ? await adoptBase(repo, cache, known, newest, log) : undefined;
    if (!adopted) return rebuild(repo, cache, log, known);
    state = adopted;
  }
  const fresh: LaneBatchName[][] = [];
  const read: LaneBatches = new Map();
  // Under a base, superseded batches are never applied again (a lane a prune retired has none after its cut).
  for (const [lane, under] of view.lanes) {
    const names = under.names;
    const from = Math.max(under.from, (state.applied[lane] ?? -1) + 1);
    // This agent's own lane must follow the last batch it stored; another lane's first after a cut, the cut.
    const after = lane === state.lane ? state.last?.digest : from === under.from ? under.after : undefined;
    const { batches, problems } = await readLane(repo, names, from, read, after ? { after } : {});
    if (problems.length > 0 && lane === state.lane)
      throw new IndexDamagedError(`this agent's own lane is damaged: ${problems.map((p) => p.message).join("; ")}`);
    for (const p of problems) log?.warn(`another writer's lane is damaged, applied up to it: ${p.message}`);
    const stop = Math.min(Infinity, ...problems.map((p) => p.seq));
    fresh.push(batches.filter((n) => n.seq < stop));
  }
  let lastBatchTime = state.last?.time ?? 0;
  let applied = 0;
  for (const name of mergeLanes(fresh)) {
    const batch = read.get(name.key)!;
    const mine = name.lane === state.lane;
    state = {
      lane: state.lane,
      last: mine ? { key: name.key, seq: name.seq, time: name.time, digest: name.digest } : state.last,
      applied: { ...state.applied, [name.lane]: name.seq },
      // A batch left in flight that reached the store is applied here like any other; nothing is left to resume.
      ...(state.inflight && !(mine && state.inflight.key === name.key) ? { inflight: state.inflight } : {}),
    };
    await cache.applyBatch(name.seq, batch.records, undefined, { lane: state, chunks: batch.blobs.map((b) => b.id) });
    lastBatchTime = Math.max(lastBatchTime, name.time);
    applied++;
  }
  if (applied > 0) log?.info(`applied ${applied} index batch(es) missing from the local state cache`);
  return { mode: applied > 0 ? "caught-up" : "current", batchesApplied: applied, lastBatchTime };
}

async function rebuild(repo: RepositoryV2, cache: StateCache, log?: Logger, keep?: LaneState): Promise<SyncResult> {
  log?.info(`rebuilding the local state cache from ${repo.storage.description}${keep ? " (a prune wrote a new base)" : ""}`);
  const bases = await repo.bases();
  await cache.reset(repo.config.id);
  // Merged on disk beside the cache: a rebuild of a million files holds a batch at a time, not the tree.
  const tree = TreeSpill.open(cache.directory);
  let merged: MergedTree;
  try {
    merged = await mergeTreeV2(repo, tree);
    const ownDamage = keep ? merged.damage.filter((d) => d.lane === keep.lane) : [];
    if (ownDamage.length) throw new IndexDamagedError(`this agent's own lane is damaged: ${ownDamage.map((p) => p.message).join("; ")}`);
    for (const d of merged.damage) log?.warn(`index damage, applied up to it: ${d.message}`);
    const broken = new Set<string>();
    for (const b of brokenEntries(tree)) {
      log?.warn(`index damage: ${b.message}; the file is read again when it is seen`);
      broken.add(b.path);
    }
    await cache.loadEntries(
      each(tree.entryList(), (e) => !broken.has(e.path)),
      -1,
    );
    // Blobs count as stored only when their pack is listed, and is not one a prune may delete (its base's
    // candidates): content deleted behind the agent's back is sent again.
    const packs = new Set<string>();
    for await (const pack of repo.packs.list()) packs.add(pack.id);
    const base = bases.at(-1);
    const doomed = new Set(base ? (await repo.readBase(base)).candidates : []);
    await cache.noticeBase(base?.key);
    await cache.addChunks(storedIds(tree.locations(), (pack) => packs.has(pack) && !doomed.has(pack)));
  } finally {
    await tree.close();
  }
  if (keep) {
    // The tree holds this lane's batches as far as they are stored; the one a crash left in flight is stored again
    // at start unless it is among them.
    const mine = (await repo.laneBatches(keep.lane)).filter((n) => n.seq <= (merged.covered[keep.lane] ?? -1)).at(-1);
    const last = mine ? { key: mine.key, seq: mine.seq, time: mine.time, digest: mine.digest } : undefined;
    const inflight = keep.inflight && keep.inflight.seq > (last?.seq ?? -1) ? { inflight: keep.inflight } : {};
    await cache.setLane({ lane: keep.lane, last, applied: { ...merged.covered }, ...inflight });
    return { mode: "rebuilt", batchesApplied: 0, lastBatchTime: merged.time };
  }
  const lane = randomBytes(16).toString("hex");
  await repo.describeLane(lane, hostname());
  await cache.setLane({ lane, last: undefined, applied: { ...merged.covered } });
  log?.info(`this agent writes lane ${lane} of ${repo.storage.description}`);
  return { mode: "rebuilt", batchesApplied: 0, lastBatchTime: merged.time };
}

/** The ids of the blobs whose pack `stored` accepts. */
function* storedIds(blobs: Iterable<StoredBlob>, stored: (pack: string) => boolean): Generator<string> {
  for (const b of blobs) if (stored(b.pack)) yield b.id;
}
