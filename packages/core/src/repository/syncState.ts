import type { Logger } from "../logger.js";
import type { StateCache } from "../state/StateCache.js";
import type { Repository } from "./Repository.js";

/** Result of {@link syncStateCache}. */
export interface SyncResult {
  /** `rebuilt` when the cache was empty or belonged to another repository. */
  mode: "current" | "caught-up" | "rebuilt";
  /** Batches applied from the remote index. */
  batchesApplied: number;
  /** Time of the newest batch seen (ms), so new batches never go back in time. */
  lastBatchTime: number;
}

/**
 * Brings the local state cache in line with the remote index: a cache of another repository (or none) is rebuilt
 * from the newest checkpoint, the batches after it and the list of stored chunks; a cache that is merely behind
 * (the agent died between writing a batch and recording it) replays the missing batches.
 */
export async function syncStateCache(repo: Repository, cache: StateCache, log?: Logger): Promise<SyncResult> {
  let mode: SyncResult["mode"] = "current";
  let lastBatchTime = 0;
  if (cache.repositoryId !== repo.config.id) {
    mode = "rebuilt";
    log?.info(`rebuilding the local state cache from ${repo.storage.description}`);
    await cache.reset(repo.config.id);
    const checkpoints = await repo.listCheckpoints();
    const latest = checkpoints.at(-1);
    if (latest) {
      await cache.loadEntries(repo.readCheckpoint(latest), latest.seq);
      lastBatchTime = latest.time;
    }
    let ids: string[] = [];
    for await (const id of repo.listChunks()) {
      ids.push(id);
      if (ids.length >= 10_000) {
        await cache.addChunks(ids);
        ids = [];
      }
    }
    await cache.addChunks(ids);
  }
  let applied = 0;
  for await (const name of repo.listBatches(cache.lastSequence + 1)) {
    if (name.seq !== cache.lastSequence + 1) {
      log?.warn(`index batch ${cache.lastSequence + 1} is missing; continuing at ${name.seq}`);
    }
    const { records } = await repo.readBatch(name);
    await cache.applyBatch(name.seq, records);
    lastBatchTime = Math.max(lastBatchTime, name.time);
    applied++;
  }
  if (mode === "current" && applied > 0) mode = "caught-up";
  if (applied > 0) log?.info(`applied ${applied} index batch(es) missing from the local state cache`);
  return { mode, batchesApplied: applied, lastBatchTime };
}
