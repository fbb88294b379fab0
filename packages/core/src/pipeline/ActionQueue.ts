import type { BackupAction } from "../types.js";

/** Options of {@link ActionQueue}. */
export interface ActionQueueOptions {
  /** UploadThreadCount: actions processed at once. */
  concurrency: number;
  /**
   * Performs one action. It handles its own failures (the pipeline's one retry path): a rejection is only counted
   * (`stats.failed`), never retried here.
   */
  handler: (action: BackupAction) => Promise<void>;
  /**
   * Called when a queued upload is replaced by a newer upload of the same path (newest wins: it names the newer
   * snapshot or staging copy). The owner releases what the old one held.
   */
  onReplaced?: (old: BackupAction, replacement: BackupAction) => void;
  /** Called after each action finishes (whatever the outcome), once the queue's counters are updated. */
  onSettled?: () => void;
}

interface Item {
  action: BackupAction;
  attempts: number;
}

function pathsOf(action: BackupAction): string[] {
  return action.type === "move" ? [action.from, action.to] : [action.path];
}

/**
 * Stage 5/6: the action queue and its workers. FIFO, with per-path ordering (an action waits while another action
 * on the same path is running, so index records of one path are produced in event order), and coalescing of queued
 * uploads of the same path. Retries and back-pressure are the pipeline's (one mechanism, on one clock).
 */
export class ActionQueue {
  readonly #o: ActionQueueOptions;
  #queue: Item[] = [];
  #head = 0;
  readonly #queuedUploads = new Map<string, Item>();
  readonly #busy = new Set<string>();
  readonly #parked = new Map<string, Item[]>();
  #parkedCount = 0;
  #running = 0;
  #idleWaiters: (() => void)[] = [];
  #settledWaiters: (() => void)[] = [];
  #paused = false;
  /** Counters for stats. */
  readonly stats = { completed: 0, failed: 0, replaced: 0 };

  constructor(options: ActionQueueOptions) {
    this.#o = options;
  }

  /** Actions waiting (queued + parked behind a busy path). */
  get size(): number {
    return this.#queue.length - this.#head + this.#parkedCount;
  }

  /** Actions running now. */
  get running(): number {
    return this.#running;
  }

  /** Adds an action (never waits). */
  enqueue(action: BackupAction): void {
    if (action.type === "upload") {
      const queued = this.#queuedUploads.get(action.path);
      if (queued) {
        // Newest wins: the queued upload keeps its place but reads the newer source.
        const old = queued.action;
        queued.action = action;
        this.stats.replaced++;
        this.#o.onReplaced?.(old, action);
        return;
      }
      const item = { action, attempts: 0 };
      this.#queuedUploads.set(action.path, item);
      this.#queue.push(item);
    } else this.#queue.push({ action, attempts: 0 });
    this.#pump();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.size === 0 && this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Resolves when no action is running (queued ones may remain, e.g. while paused). */
  settled(): Promise<void> {
    if (this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#settledWaiters.push(resolve));
  }

  /** Stops starting new actions (running ones finish). */
  pause(): void {
    this.#paused = true;
  }

  /** Starts processing again. */
  resume(): void {
    this.#paused = false;
    this.#pump();
  }

  /** Stops starting actions for good (shutdown); queued ones stay counted as not done. */
  close(): void {
    this.#paused = true;
  }

  #next(): Item | undefined {
    while (this.#head < this.#queue.length) {
      const item = this.#queue[this.#head++]!;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      const busyPath = pathsOf(item.action).find((p) => this.#busy.has(p));
      if (busyPath !== undefined) {
        const list = this.#parked.get(busyPath) ?? [];
        list.push(item);
        this.#parked.set(busyPath, list);
        this.#parkedCount++;
        continue;
      }
      return item;
    }
    return undefined;
  }

  #pump(): void {
    while (!this.#paused && this.#running < this.#o.concurrency) {
      const item = this.#next();
      if (!item) break;
      this.#start(item);
    }
    this.#checkWaiters();
  }

  #start(item: Item): void {
    const paths = pathsOf(item.action);
    for (const p of paths) this.#busy.add(p);
    if (item.action.type === "upload") this.#queuedUploads.delete(item.action.path);
    this.#running++;
    item.attempts++;
    this.#o.handler(item.action).then(
      () => {
        this.stats.completed++;
        this.#finish(paths);
      },
      () => {
        this.stats.failed++;
        this.#finish(paths);
      },
    );
  }

  #finish(paths: string[]): void {
    this.#running--;
    for (const p of paths) {
      this.#busy.delete(p);
      const parked = this.#parked.get(p);
      if (parked) {
        this.#parked.delete(p);
        this.#parkedCount -= parked.length;
        // Parked actions go first, in their original order.
        this.#queue.splice(this.#head, 0, ...parked);
      }
    }
    this.#pump();
    this.#o.onSettled?.();
  }

  #checkWaiters(): void {
    if (this.#running === 0 && this.#settledWaiters.length) {
      const waiters = this.#settledWaiters;
      this.#settledWaiters = [];
      for (const w of waiters) w();
    }
    if (this.size === 0 && this.#running === 0 && this.#idleWaiters.length) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
