import { defaultCacheDirectory, loadTree, openHistory, type AnyRepository, type HistoryReader, type Logger } from "@rtbackup/core";
import type { BrowseTree } from "./BrowseTree.js";
import { BrowseError } from "./params.js";
import { TreeCache } from "./TreeCache.js";

/** Where the restore browser reads from (what {@link registerBrowseRoutes} is given). */
export interface BrowseSource {
  /** The repository; called when one is first needed (and again after it failed), then kept. */
  repository(): Promise<AnyRepository>;
  log: Logger;
  /**
   * The directory of the local history cache that the versions and the commit timeline of a format 2 repository are
   * read through, as `rtb versions` does (pass `cacheDirectoryOf(parameters)`). Default: core's
   * `defaultCacheDirectory()`; `false` reads every batch from the store on each request.
   */
  historyCacheDirectory?: string | false;
}

/** What the browse routes share: the repository opened once, the last trees read, history reads one at a time. */
export class BrowseContext {
  readonly log: Logger;
  readonly #source: BrowseSource;
  readonly #trees: TreeCache;
  #repository: Promise<AnyRepository> | undefined;
  #historyQueue: Promise<unknown> = Promise.resolve();

  constructor(source: BrowseSource) {
    this.#source = source;
    this.log = source.log;
    this.#trees = new TreeCache(async (at) => loadTree(await this.repository(), { at, salvage: true }));
  }

  /** The repository, opened on first use; a failed open is tried again by the next request. */
  repository(): Promise<AnyRepository> {
    if (!this.#repository) {
      const opening = this.#source.repository();
      this.#repository = opening;
      opening.catch(() => {
        if (this.#repository === opening) this.#repository = undefined;
      });
    }
    return this.#repository;
  }

  /** The tree as of `at` (default now), from the last ones read when one of them answers. */
  tree(at: number | undefined): Promise<BrowseTree> {
    return this.#trees.get(at);
  }

  /**
   * Runs `use` on the repository's history, opened for it and closed afterwards; one at a time, since the history
   * cache of a process is one LMDB file that one reader at a time may hold.
   */
  history<T>(use: (history: HistoryReader) => Promise<T>): Promise<T> {
    const run = this.#historyQueue.then(async () => {
      const directory = this.#source.historyCacheDirectory === undefined ? defaultCacheDirectory() : this.#source.historyCacheDirectory;
      const history = await openHistory(await this.repository(), {
        cacheDirectory: directory === false ? undefined : directory,
        onCacheProblem: (message) => this.log.warn(message),
      });
      try {
        return await use(history);
      } finally {
        await history.close();
      }
    });
    this.#historyQueue = run.catch(() => undefined);
    return run;
  }
}

/**
 * The error for a path parameter that the tree as of its moment does not hold as wanted: `what` it is there ("not",
 * "a directory, not a regular file,"); 404 when nothing is there, 400 (`status`) when something else is.
 */
export function notInTree(parameter: string, shownPath: string, what: string, tree: BrowseTree, status: 400 | 404 = 404): BrowseError {
  return new BrowseError(status, `parameter ${parameter}: ${shownPath} is ${what} in the backup as of ${new Date(tree.time).toISOString()}`);
}
