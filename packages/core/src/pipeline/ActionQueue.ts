import type { BackupAction } from "../types.js";
import { backoffDelay, isTransient } from "./retry.js";

/** Options of {@link ActionQueue}. */
export interface ActionQueueOptions {
  /** UploadThreadCount: actions processed at once. */
  concurrency: number;
  /** QueueHighWaterMark: `push` waits once this many actions are queued... */
  highWaterMark: number;
  /** ...until the queue is down to QueueLowWaterMark. */
  lowWaterMark: number;
  /** Performs one action. A rejection schedules a retry with backoff. */
  handler: (action: BackupAction) => Promise<void>;
  /**
   * Called on every failure. Return `false` to give up on the action (it is reported, not retried in this run);
   * by default failures are retried for ever with capped backoff.
   */
  onFailure?: (action: BackupAction, error: unknown, attempts: number, retryAt: number | undefined) => boolean | void;
  /**
   * Called when a queued upload is replaced by a newer upload of the same path (newest wins: it names the newer
   * snapshot or staging copy). The owner releases what the old one held.
   */
  onReplaced?: (old: BackupAction, replacement: BackupAction) => void;
  /** Called after each action finishes (whatever the outcome), once the queue's counters are updated. */
  onSettled?: () => void;
  /** Backoff cap (ms). Default 5 minutes. */
  maxBackoffMs?: number;
  /** Backoff base (ms). Default 1 s. */
  baseBackoffMs?: number;
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
 * on the same path is running, so index records of one path are produced in event order), coalescing of queued
 * uploads of the same path, high/low water-mark back-pressure on producers, and retries with exponential backoff
 * for failed actions — a failed action is never silently dropped.
 */
export class ActionQueue {
  readonly #o: Required<Omit<ActionQueueOptions, "onFailure" | "onSettled" | "onReplaced">> &
    Pick<ActionQueueOptions, "onFailure" | "onSettled" | "onReplaced">;
  #queue: Item[] = [];
  #head = 0;
  readonly #queuedUploads = new Map<string, Item>();
  readonly #busy = new Set<string>();
  readonly #parked = new Map<string, Item[]>();
  #parkedCount = 0;
  #running = 0;
  #retrying = 0;
  readonly #retryTimers = new Set<NodeJS.Timeout>();
  #throttled = false;
  #roomWaiters: (() => void)[] = [];
  #idleWaiters: (() => void)[] = [];
  #settledWaiters: (() => void)[] = [];
  #paused = false;
  /** Counters for stats. */
  readonly stats = { completed: 0, failed: 0, retried: 0, gaveUp: 0, replaced: 0 };

  constructor(options: ActionQueueOptions) {
    this.#o = { maxBackoffMs: 300_000, baseBackoffMs: 1_000, ...options };
  }

  /** Actions waiting (queued + parked behind a busy path + waiting for a retry). */
  get size(): number {
    return this.#queue.length - this.#head + this.#parkedCount + this.#retrying;
  }

  /** Actions running now. */
  get running(): number {
    return this.#running;
  }

  /**
   * Adds an action. Resolves at once unless the queue is above its high-water mark, in which case it resolves once
   * the queue has drained to the low-water mark (back-pressure on producers such as the scanner).
   */
  async push(action: BackupAction): Promise<void> {
    this.enqueue(action);
    if (this.size >= this.#o.highWaterMark) this.#throttled = true;
    if (this.#throttled) await new Promise<void>((resolve) => this.#roomWaiters.push(resolve));
  }

  /** Adds an action without waiting (for sources that must never block). */
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

  /** Resolves when nothing is queued, running or waiting for a retry. */
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

  /** Cancels pending retry timers (shutdown); their actions stay counted as not done. */
  close(): void {
    for (const t of this.#retryTimers) clearTimeout(t);
    this.#retryTimers.clear();
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
      (err: unknown) => {
        this.stats.failed++;
        const transient = isTransient(err);
        const wait = backoffDelay(item.attempts, this.#o.baseBackoffMs, this.#o.maxBackoffMs);
        const retryAt = Date.now() + wait;
        const verdict = this.#o.onFailure?.(item.action, err, item.attempts, transient ? retryAt : undefined);
        if (verdict === false || !transient) {
          this.stats.gaveUp++;
        } else {
          this.stats.retried++;
          this.#retrying++;
          const timer = setTimeout(() => {
            this.#retryTimers.delete(timer);
            this.#retrying--;
            // Back of the queue: other files make progress while this one keeps failing.
            if (item.action.type === "upload") {
              // A newer upload of the path is queued already: it supersedes this retry.
              if (this.#queuedUploads.has(item.action.path)) return this.#pump();
              this.#queuedUploads.set(item.action.path, item);
            }
            this.#queue.push(item);
            this.#pump();
          }, wait);
          timer.unref?.();
          this.#retryTimers.add(timer);
        }
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
    if (this.#throttled && this.size <= this.#o.lowWaterMark) {
      this.#throttled = false;
      const waiters = this.#roomWaiters;
      this.#roomWaiters = [];
      for (const w of waiters) w();
    }
    if (this.size === 0 && this.#running === 0 && this.#idleWaiters.length) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
