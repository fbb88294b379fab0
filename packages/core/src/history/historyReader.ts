import { join } from "node:path";
import type { IndexDamagedError } from "../errors.js";
import { messageOf } from "../errors.js";
import { isV2, type AnyRepository } from "../repository/openRepository.js";
import type { RepositoryV2 } from "../repository/v2/RepositoryV2.js";
import { cachedSummaries, commitsTouching, syncHistoryCache } from "./cachedHistory.js";
import { readHistory, type History } from "./commits.js";
import { HistoryCache } from "./historyCache.js";
import { summarizeCommits, versionsOf, type CommitSummary, type Version } from "./versions.js";

/** What `rtb versions` and `rtb log` ask of a repository's history, from the store or from the local cache. */
export interface HistoryReader {
  readonly damage: readonly IndexDamagedError[];
  /** v2: lane id → the host its `lane` object names. */
  readonly hosts: ReadonlyMap<string, string>;
  /** Where the answers come from, and (from the cache) how many batches this run read from the store. */
  readonly source: { readonly kind: "store" } | { readonly kind: "cache"; readonly directory: string; readonly batchesRead: number };
  /** {@link versionsOf}: every committed version of `root` (with `recursive`, of everything under it). */
  versions(root: string, options?: { recursive?: boolean }): Promise<Version[]>;
  /** {@link summarizeCommits}: the commits as a timeline. */
  summaries(options?: { since?: number; until?: number; path?: string }): Promise<CommitSummary[]>;
  close(): Promise<void>;
}

/** A reader over a history read whole from the store. */
export function historyReader(history: History): HistoryReader {
  return {
    damage: history.damage,
    hosts: history.hosts,
    source: { kind: "store" },
    versions: (root, options = {}) => Promise.resolve(versionsOf(history.commits, root, options)),
    summaries: (options = {}) => Promise.resolve(summarizeCommits(history.commits, options)),
    close: () => Promise.resolve(),
  };
}

/**
 * Opens a repository's history for reading. A format 2 repository with a `cacheDirectory` is read through the local
 * cache (docs/history.md "The local cache"): only batches new since the last run are read from the store. A cache
 * that cannot be used (not this user's, unreadable, lost batches while filled) is reported to `onCacheProblem`, and
 * the history is read from the store instead: a cache never decides what a reader sees. `until` (with no cache)
 * reads no batch committed after it.
 */
export async function openHistory(
  repo: AnyRepository,
  options: { cacheDirectory?: string | undefined; until?: number; onCacheProblem?: (message: string) => void } = {},
): Promise<HistoryReader> {
  const fromStore = async () => historyReader(await readHistory(repo, options.until === undefined ? {} : { until: options.until }));
  if (!isV2(repo) || options.cacheDirectory === undefined) return fromStore();
  const problem = (err: unknown) =>
    options.onCacheProblem?.(`the history cache under ${options.cacheDirectory} cannot be used (${messageOf(err)}); reading the store instead`);
  let cached: HistoryReader;
  try {
    cached = await cachedReader(repo, options.cacheDirectory, options.onCacheProblem);
  } catch (err) {
    problem(err);
    return fromStore();
  }
  // A cache that fails while answering (its file damaged under it) gives way to the store, for this answer and the rest.
  let fallback: Promise<HistoryReader> | undefined;
  const answer = async <T>(ask: (r: HistoryReader) => Promise<T>): Promise<T> => {
    if (!fallback) {
      try {
        return await ask(cached);
      } catch (err) {
        problem(err);
        fallback = fromStore();
      }
    }
    return ask(await fallback);
  };
  return {
    damage: cached.damage,
    hosts: cached.hosts,
    source: cached.source,
    versions: (root, o) => answer((r) => r.versions(root, o)),
    summaries: (o) => answer((r) => r.summaries(o)),
    close: () => cached.close(),
  };
}

async function cachedReader(repo: RepositoryV2, root: string, notice: ((message: string) => void) | undefined): Promise<HistoryReader> {
  const cache = HistoryCache.open(root, repo.config.id);
  if (cache.discarded) notice?.(`the history cache was thrown away and is filled again: ${cache.discarded}`);
  try {
    const synced = await syncHistoryCache(repo, cache);
    return {
      damage: synced.damage,
      hosts: synced.hosts,
      source: { kind: "cache", directory: join(root, repo.config.id), batchesRead: synced.read },
      versions: async (path, options = {}) => versionsOf(commitsTouching(cache, synced, path, options), path, options),
      summaries: async (options = {}) =>
        options.path === undefined
          ? cachedSummaries(synced, options)
          : summarizeCommits(commitsTouching(cache, synced, options.path, { recursive: true, follow: false }), options),
      close: () => cache.close(),
    };
  } catch (err) {
    await cache.close();
    throw err;
  }
}
