import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { IndexDamagedError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import type { StateCache } from "../../state/StateCache.js";
import type { SyncResult } from "../syncState.js";
import type { RepositoryV2 } from "./RepositoryV2.js";

/**
 * The start-up sync of a writer that holds a writer key (docs/encryption.md "Write-only agents"): it can read no
 * index object, its own included, so it trusts its state cache and checks only what object names say. A cache of
 * another repository (or none) starts empty on a new lane: every file is uploaded again, and what is stored stays
 * as it is (nothing is lost; files deleted while the cache was lost stay in the older lanes' tree). A known cache
 * must find its last batch listed; a batch after it in its own lane is the one a crash left in flight (applied from
 * the copy the cache kept) or else damage: nothing is written on top. Other writers' lanes are not read.
 */
export async function syncWriterLane(repo: RepositoryV2, cache: StateCache, log?: Logger): Promise<SyncResult> {
  const known = cache.lane;
  if (cache.repositoryId !== repo.config.id || !known) {
    log?.warn(
      `the local state cache is not this repository's: with a writer key the index cannot be read, so every file is uploaded again (what is stored is kept)`,
    );
    await cache.reset(repo.config.id);
    const lane = randomBytes(16).toString("hex");
    await repo.describeLane(lane, hostname());
    await cache.setLane({ lane, last: undefined, applied: {} });
    await cache.noticeBase((await repo.bases()).at(-1)?.key);
    log?.info(`this agent writes lane ${lane} of ${repo.storage.description}`);
    return { mode: "rebuilt", batchesApplied: 0, lastBatchTime: 0 };
  }
  const newest = (await repo.bases()).at(-1)?.key;
  if (newest !== cache.knownBase) {
    log?.info(`a prune wrote ${newest ?? "no base"}: content stored before it is uploaded again when met, never deduplicated against`);
    await cache.noticeBase(newest);
  }
  const own = await repo.laneBatches(known.lane);
  const last = known.last;
  if (last && !own.some((n) => n.key === last.key)) {
    throw new IndexDamagedError(`this agent's last index batch ${last.key} is no longer in the store: the index lost what this agent committed`, {
      key: last.key,
    });
  }
  const after = own.filter((n) => n.seq > (last?.seq ?? -1));
  const inflight = known.inflight;
  const landed = inflight && after.length === 1 && after[0]!.key === inflight.key ? after[0]! : undefined;
  if (after.length > 0 && !landed) {
    throw new IndexDamagedError(`this agent's own lane has batches it did not store after ${last?.key ?? "its start"}: ${after.map((n) => n.key).join(", ")}`);
  }
  if (!landed || !inflight) return { mode: "current", batchesApplied: 0, lastBatchTime: last?.time ?? 0 };
  const state = {
    lane: known.lane,
    last: { key: landed.key, seq: landed.seq, time: landed.time, digest: landed.digest },
    applied: { ...known.applied, [known.lane]: landed.seq },
  };
  await cache.applyBatch(landed.seq, inflight.records, undefined, { lane: state, chunks: inflight.blobs, chunksStored: true });
  log?.info("applied the index batch the previous run left in flight (it reached the store)");
  return { mode: "caught-up", batchesApplied: 1, lastBatchTime: landed.time };
}
