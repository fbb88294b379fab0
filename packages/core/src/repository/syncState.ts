import type { Logger } from "../logger.js";
import type { StateCache } from "../state/StateCache.js";
import { parseIndexKey } from "./format.js";
import { readJournal, type Journal } from "./journal.js";
import type { Repository } from "./Repository.js";

/** Result of {@link syncStateCache}. */
export interface SyncResult {
  /** `rebuilt` when the cache was empty, belonged to another repository or was older than the newest checkpoint. */
  mode: "current" | "caught-up" | "rebuilt";
  /** Batches applied from the remote index. */
  batchesApplied: number;
  /** Time of the newest batch seen (ms), so new batches never go back in time. */
  lastBatchTime: number;
}

/**
 * Applies the batches of a journal that lie beyond the cache's last sequence number, in journal order. Skipped:
 * replaced batches, the keys in `skip` (the caller's own unconfirmed batches), and rewrites whose records the cache
 * already applied from the batch they replace (kept in the cache's provisional set). A batch that shares its
 * sequence number with another live batch is applied and remembered as provisional. Returns the batches applied.
 */
export async function applyJournal(cache: StateCache, journal: Journal, skip: ReadonlySet<string> = new Set()): Promise<number> {
  const start = cache.lastSequence;
  const provisional = new Set(cache.provisional);
  const unresolved = new Set(journal.unresolved);
  let applied = 0;
  for (const { name, header, records } of journal.batches) {
    if (name.seq <= start) continue;
    const replaces = header.replaces ?? [];
    const already = replaces.filter((k) => provisional.has(k));
    if (journal.replaced.has(name.key) || skip.has(name.key) || already.length) {
      for (const k of already) provisional.delete(k);
      await cache.applyBatch(name.seq, []);
      continue;
    }
    await cache.applyBatch(name.seq, records);
    if (unresolved.has(name.seq)) provisional.add(name.key);
    applied++;
  }
  await cache.setProvisional([...provisional]);
  return applied;
}

/**
 * Brings the local state cache in line with the remote index: a cache of another repository (or none), or one older
 * than the newest checkpoint, is rebuilt from that checkpoint and the list of stored chunks; then every batch after
 * the checkpoint is read and verified (a missing or corrupt batch, a gap, or the cache's own last batch missing is an
 * INDEX_DAMAGED error), and the ones the cache has not seen are applied. Chunks named by the index are not trusted
 * as stored: only the listing of `data/` (and this agent's own uploads) mark a chunk as present.
 */
export async function syncStateCache(repo: Repository, cache: StateCache, log?: Logger): Promise<SyncResult> {
  let mode: SyncResult["mode"] = "current";
  let lastBatchTime = 0;
  const latest = (await repo.listCheckpoints()).at(-1);
  const foreign = cache.repositoryId !== repo.config.id;
  if (foreign || (latest !== undefined && latest.seq > cache.lastSequence)) {
    mode = "rebuilt";
    log?.info(
      foreign
        ? `rebuilding the local state cache from ${repo.storage.description}`
        : `rebuilding the local state cache: it stops at batch ${cache.lastSequence}, the store has a checkpoint at ${latest!.seq}`,
    );
    // A batch this agent left in flight stays in flight: Committer.resume completes it after the rebuild.
    const inflight = foreign ? undefined : cache.inflight;
    await cache.reset(repo.config.id);
    if (inflight) await cache.setInflight(inflight);
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
  const after = latest?.seq ?? -1;
  const journal = await readJournal(repo, { after, expect: cache.lastSequence });
  await cache.setProvisional(cache.provisional.filter((k) => (parseIndexKey(k)?.seq ?? -1) > after));
  for (const b of journal.batches) lastBatchTime = Math.max(lastBatchTime, b.name.time);
  const applied = await applyJournal(cache, journal);
  if (mode === "current" && applied > 0) mode = "caught-up";
  if (applied > 0) log?.info(`applied ${applied} index batch(es) missing from the local state cache`);
  if (journal.unresolved.length) {
    log?.warn(`index batches ${journal.unresolved.join(", ")} were written by several writers and are not yet rewritten (docs/format.md "Several writers")`);
  }
  return { mode, batchesApplied: applied, lastBatchTime };
}
