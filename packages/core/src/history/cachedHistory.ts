import type { IndexDamagedError } from "../errors.js";
import { isNoOpMove } from "../repository/format.js";
import { readIndexView } from "../repository/v2/indexView.js";
import type { LaneBatchName } from "../repository/v2/lanes.js";
import { readViewLanes } from "../repository/v2/readTreeV2.js";
import type { RepositoryV2 } from "../repository/v2/RepositoryV2.js";
import { historyDamage, laneHost, type Commit } from "./commits.js";
import { commitOrder, type CachedCommit, type CachedRecord, type HistoryCache } from "./historyCache.js";
import { isAtOrUnder, summarizeCommits, type CommitSummary } from "./versions.js";

/** Records added to the cache per transaction (each commit whole in one). */
const RECORDS_PER_TRANSACTION = 50_000;

/** The cache brought up to date with the store: the commits a reader may use (by order), damage and hosts. */
export interface SyncedHistory {
  readonly usable: Map<string, CachedCommit>;
  readonly damage: IndexDamagedError[];
  readonly hosts: Map<string, string>;
  /** Batches read from the store by this sync (the rest came from the cache). */
  readonly read: number;
}

/**
 * Brings the cache up to date: lists the index (one index view, as every reader does), reads only the batches the
 * cache lacks, and checks every lane's chain with the `prev` digests the cache kept. When the cache holds a batch
 * the store no longer lists (a prune superseded it, or the store lost it), the cache is emptied and filled again, so
 * it never shows what the store no longer has. Damage is named as by {@link readHistory}.
 */
export async function syncHistoryCache(repo: RepositoryV2, cache: HistoryCache): Promise<SyncedHistory> {
  const view = await readIndexView(repo);
  const inView = new Map<string, LaneBatchName>();
  for (const lane of view.lanes.values()) for (const n of lane.names) if (n.seq >= lane.from) inView.set(n.key, n);
  let cached = cache.commits();
  if ([...cached.keys()].some((key) => !inView.has(key))) {
    cache.clear(repo.config.id);
    cached = new Map();
  }
  const generation = cache.generation();
  const known = new Map([...cached].map(([key, c]) => [key, c.prev] as const));
  const { byLane, read, problems } = await readViewLanes(repo, view.lanes, { salvage: true, known });
  let group: { commit: CachedCommit; records: Commit["records"] }[] = [];
  let size = 0;
  for (const [key, batch] of read) {
    const name = inView.get(key)!;
    const storedBytes = batch.blobs.reduce((n, b) => n + b.length, 0);
    const commit: Commit = { time: name.time, writer: name.lane, seq: name.seq, key, records: batch.records, storedBytes };
    const summary = summarizeCommits([commit])[0] ?? null;
    const entry: CachedCommit = { key, time: name.time, lane: name.lane, seq: name.seq, prev: batch.prev, storedBytes, summary };
    cached.set(key, entry);
    group.push({ commit: entry, records: batch.records });
    size += batch.records.length + 1;
    if (size >= RECORDS_PER_TRANSACTION) {
      await cache.add(group);
      [group, size] = [[], 0];
    }
  }
  if (group.length) await cache.add(group);
  const fresh = read.size;
  read.clear();
  // Another run emptied the cache meanwhile: answering from it would leave commits out.
  if (cache.generation() !== generation) throw new Error("another run emptied the history cache while this one filled it");
  const usable = new Map<string, CachedCommit>();
  for (const names of byLane.values()) {
    for (const n of names) {
      const c = cached.get(n.key)!;
      usable.set(commitOrder(c.time, c.lane, c.seq).toString("hex"), c);
    }
  }
  const hosts = cache.hosts();
  for (const lane of view.lanes.keys()) {
    if (hosts.has(lane)) continue;
    const host = await laneHost(repo, lane);
    if (host === undefined) continue;
    hosts.set(lane, host);
    await cache.setHost(lane, host);
  }
  return { usable, damage: historyDamage(view.damage, problems), hosts, read: fresh };
}

/** `path` and every directory above it, "/" first. */
function selfAndAncestors(path: string): string[] {
  const out = ["/"];
  for (let i = path.indexOf("/", 1); i !== -1; i = path.indexOf("/", i + 1)) out.push(path.slice(0, i));
  if (path !== "/") out.push(path);
  return out;
}

/**
 * The commits, in order, holding every record that can change what is at `root` (with `recursive`, at or under
 * it): its puts, moves and deletes of it or of a directory above it, and, through every move into it, the same for
 * where the move came from (followed back move by move). Replaying them gives the same versions of `root` as
 * replaying every commit, and only the commits in `usable` (and up to `until`) are given.
 */
export function commitsTouching(
  cache: HistoryCache,
  synced: SyncedHistory,
  root: string,
  options: { recursive?: boolean; until?: number; follow?: boolean } = {},
): Commit[] {
  const found = new Map<string, CachedRecord>();
  const add = (r: CachedRecord) => found.set(`${r.order}:${r.index}`, r);
  // Each source is what a later move brought (from where, and before which record): only moves before that record
  // are followed from it, so the walk ends even through moves into their own subdirectories (a hostile index).
  const done = new Map<string, string>();
  const queue: { path: string; recursive: boolean; before: string }[] = [{ path: root, recursive: options.recursive === true, before: "~" }];
  while (queue.length) {
    const source = queue.pop()!;
    const id = `${source.recursive ? "r" : "p"}${source.path}`;
    const reached = done.get(id);
    if (reached !== undefined && reached >= source.before) continue;
    if (reached === undefined) {
      for (const r of cache.records("put", source.path, source.recursive)) add(r);
    }
    done.set(id, source.before);
    const structural = selfAndAncestors(source.path).flatMap((p) => cache.records("structural", p, false));
    if (source.recursive) structural.push(...cache.records("structural", source.path, true));
    for (const r of structural) {
      add(r);
      const rec = r.record;
      if (rec.op !== "move" || isNoOpMove(rec.from, rec.to) || options.follow === false) continue;
      const at = `${r.order}${r.index.toString(16).padStart(8, "0")}`;
      if (at >= source.before) continue;
      // What a move brings to `source` was, before it, at the same place under where it came from.
      if (isAtOrUnder(source.path, rec.to)) queue.push({ path: rec.from + source.path.slice(rec.to.length), recursive: source.recursive, before: at });
      else if (source.recursive && isAtOrUnder(rec.to, source.path)) queue.push({ path: rec.from, recursive: true, before: at });
    }
  }
  const byCommit = new Map<string, CachedRecord[]>();
  for (const r of found.values()) {
    const c = synced.usable.get(r.order);
    if (!c || (options.until !== undefined && c.time > options.until)) continue;
    let list = byCommit.get(r.order);
    if (!list) byCommit.set(r.order, (list = []));
    list.push(r);
  }
  return [...byCommit.keys()].sort().map((order) => {
    const c = synced.usable.get(order)!;
    const records = byCommit
      .get(order)!
      .sort((a, b) => a.index - b.index)
      .map((r) => r.record);
    return { time: c.time, writer: c.lane, seq: c.seq, key: c.key, records, storedBytes: c.storedBytes };
  });
}

/** Every commit summed up (as {@link summarizeCommits} does), from the summaries the cache keeps. */
export function cachedSummaries(synced: SyncedHistory, options: { since?: number; until?: number } = {}): CommitSummary[] {
  const out: CommitSummary[] = [];
  for (const order of [...synced.usable.keys()].sort()) {
    const s = synced.usable.get(order)!.summary;
    if (!s || (options.since !== undefined && s.time < options.since) || (options.until !== undefined && s.time > options.until)) continue;
    out.push(s);
  }
  return out;
}
