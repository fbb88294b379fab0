import { messageOf, type CommitInfo, type FailureInfo, type Runtime } from "@rtbackup/core";

/** One commit as the page shows it. */
export interface CommitView {
  time: string;
  sequence: number;
  puts: number;
  moves: number;
  deletes: number;
  bytes: number;
  /** The first few paths the commit names (the page lists them; the rest are counted). */
  paths: string[];
}

/** One failure as the page shows it. */
export interface FailureView {
  time: string;
  path: string;
  stage: FailureInfo["stage"];
  attempts: number;
  message: string;
  retryAt: string | undefined;
}

/** An event pushed to the page: its SSE event name and data. */
export interface FeedEvent {
  event: string;
  data: unknown;
}

const KEPT = 20;
const PATHS_PER_COMMIT = 5;

/** Adds `item` to the front of `list`, which keeps at most {@link KEPT}. */
function remember<T>(list: T[], item: T): void {
  list.unshift(item);
  if (list.length > KEPT) list.length = KEPT;
}

/**
 * What the status page shows beyond the runtime's stats: the last commits and failures (kept from the agent's hooks
 * since the server started), and each hook's event passed on to whoever listens (the page's event streams).
 */
export class StatusFeed {
  readonly commits: CommitView[] = [];
  readonly failures: FailureView[] = [];
  /** Scans started since the feed was made. */
  scans = 0;
  readonly #listeners = new Set<(e: FeedEvent) => void>();

  constructor(runtime: Runtime) {
    const hooks = runtime.hooks;
    const name = "WebStatusFeed";
    hooks.commit.tapPromise(name, async (c) => this.#commit(c));
    hooks.failure.tap(name, (f) => this.#failure(f));
    hooks.uploadStarted.tap(name, (u) => this.#post({ event: "uploadStarted", data: { path: u.path, size: u.size } }));
    hooks.uploaded.tap(name, (u) => this.#post({ event: "uploaded", data: { path: u.path, size: u.size, bytesUploaded: u.bytesUploaded ?? 0 } }));
    hooks.scan.tap(name, (s) => {
      if (!s.done) this.scans += 1;
      this.#post({ event: s.done ? "scanFinished" : "scanStarted", data: { reason: s.reason, roots: s.roots, changed: s.changed } });
    });
  }

  /** Calls `listener` with every event from now on; returns the function that stops it. */
  listen(listener: (e: FeedEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Listeners at the moment. */
  get listeners(): number {
    return this.#listeners.size;
  }

  /** Passes an event to every listener. */
  post(e: FeedEvent): void {
    this.#post(e);
  }

  #post(e: FeedEvent): void {
    for (const listener of [...this.#listeners]) listener(e);
  }

  #commit(c: CommitInfo): void {
    const view: CommitView = { time: new Date().toISOString(), sequence: c.sequence, puts: 0, moves: 0, deletes: 0, bytes: 0, paths: [] };
    for (const r of c.records) {
      if (r.op === "put") {
        view.puts += 1;
        view.bytes += r.size;
      } else if (r.op === "move") view.moves += 1;
      else view.deletes += 1;
      if (view.paths.length < PATHS_PER_COMMIT) view.paths.push(r.op === "move" ? `${r.from} → ${r.to}` : r.path);
    }
    remember(this.commits, view);
    this.#post({ event: "commit", data: view });
  }

  #failure(f: FailureInfo): void {
    const view: FailureView = {
      time: new Date().toISOString(),
      path: f.path,
      stage: f.stage,
      attempts: f.attempts,
      message: messageOf(f.error),
      retryAt: f.retryAt === undefined ? undefined : new Date(f.retryAt).toISOString(),
    };
    remember(this.failures, view);
    this.#post({ event: "failure", data: view });
  }
}
