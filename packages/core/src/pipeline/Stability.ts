import { createReadStream } from "node:fs";
import { lstat } from "node:fs/promises";
import { createHash } from "node:crypto";
import { fsPath } from "../fsNames.js";
import type { Logger } from "../logger.js";
import type { SharedSnapshot } from "./SharedSnapshot.js";
import type { StageContext } from "./StageContext.js";

/** Why a file left the stability stage. */
export type PromotionReason = "no-writer" | "content-stable" | "deadline";

/** Options of {@link Stability}. */
export interface StabilityOptions {
  context: StageContext;
  /** OpenFileHandlePollingInterval. */
  pollInterval: number;
  /** MaximumTimeToWaitForNoOpenFileHandles. */
  maxWaitForNoWriters: number;
  /** LongPollingInterval. */
  longPollingInterval: number;
  /** MaximumLongPollingTime. */
  maxLongPollingTime: number;
  /** Hands a stable file on (with a reference to the snapshot to read it from, which the receiver releases). */
  promote(path: string, shared: SharedSnapshot, reason: PromotionReason): void;
  /** Takes new snapshots covering these paths (each returned reference already acquired for its path). */
  resnapshot(paths: string[]): Promise<Map<string, SharedSnapshot>>;
}

interface Item {
  path: string;
  shared: SharedSnapshot;
  firstSeen: number;
  longSince?: number;
}

async function fileDigest(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(fsPath(path))) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Whether a file has the same content in two snapshots (size and mtime first; bytes only when those agree). */
export async function sameContent(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([lstat(fsPath(a)), lstat(fsPath(b))]);
  if (sa.size !== sb.size || sa.mtimeMs !== sb.mtimeMs) return false;
  const [ha, hb] = await Promise.all([fileDigest(a), fileDigest(b)]);
  return ha === hb;
}

/**
 * Stage 4: a file with a writer (asked through the `stability` hook) is polled every `pollInterval`; after
 * `maxWaitForNoWriters` it moves to long polling, which every `longPollingInterval` takes a new snapshot and
 * compares the file's content with the previous one (identical → upload); after `maxLongPollingTime` it is uploaded
 * anyway, from the newest snapshot. Files without a writer are promoted at once.
 */
export class Stability {
  readonly #o: StabilityOptions;
  readonly #log: Logger;
  readonly #waiting = new Map<string, Item>();
  readonly #long = new Map<string, Item>();
  readonly #fresh = new Set<string>();
  #pollTimer: unknown;
  #pollAt = Number.POSITIVE_INFINITY;
  #longTimer: unknown;
  #busy = false;
  #longBusy = false;
  readonly stats = { checks: 0, promoted: 0, longPolled: 0, promotedStable: 0, promotedDeadline: 0 };

  constructor(options: StabilityOptions) {
    this.#o = options;
    this.#log = options.context.logger("stability");
  }

  /** Files waiting for their writers to close. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /** Paths currently waiting or long polling. */
  get paths(): string[] {
    return [...this.#waiting.keys(), ...this.#long.keys()];
  }

  /** Files in long polling. */
  get longPolling(): number {
    return this.#long.size;
  }

  /**
   * Adds a file (holding one reference to `shared`). A file already waiting keeps its wait start but switches to
   * the newer snapshot.
   */
  add(path: string, shared: SharedSnapshot): void {
    const existing = this.#waiting.get(path) ?? this.#long.get(path);
    if (existing) {
      existing.shared.release();
      existing.shared = shared;
      return;
    }
    this.#waiting.set(path, { path, shared, firstSeen: this.#o.context.clock.now() });
    this.#fresh.add(path);
    this.#schedulePoll(0);
  }

  /** Drops every waiting file, releasing its snapshot (shutdown). Returns their paths. */
  clear(): string[] {
    const paths = [...this.#waiting.keys(), ...this.#long.keys()];
    for (const item of [...this.#waiting.values(), ...this.#long.values()]) item.shared.release();
    this.#waiting.clear();
    this.#long.clear();
    this.#fresh.clear();
    this.#o.context.clock.clearTimeout(this.#pollTimer);
    this.#o.context.clock.clearTimeout(this.#longTimer);
    this.#pollAt = Number.POSITIVE_INFINITY;
    return paths;
  }

  #schedulePoll(delay: number): void {
    const at = this.#o.context.clock.now() + delay;
    if (at >= this.#pollAt) return;
    this.#o.context.clock.clearTimeout(this.#pollTimer);
    this.#pollAt = at;
    this.#pollTimer = this.#o.context.clock.setTimeout(() => {
      this.#pollAt = Number.POSITIVE_INFINITY;
      void this.#o.context.work.run(() => this.#poll());
    }, delay);
  }

  async #writers(paths: string[]): Promise<ReadonlySet<string>> {
    this.stats.checks++;
    const hook = this.#o.context.hooks.stability;
    if (!hook.isUsed() || paths.length === 0) return new Set();
    return (await hook.promise({ paths })) ?? new Set();
  }

  async #poll(): Promise<void> {
    if (this.#busy) return this.#schedulePoll(this.#o.pollInterval);
    this.#busy = true;
    try {
      // New files are checked at once; files already seen with a writer wait a full interval between checks.
      const now = this.#o.context.clock.now();
      const items = [...this.#waiting.values()];
      this.#fresh.clear();
      let writers: ReadonlySet<string>;
      try {
        writers = await this.#writers(items.map((i) => i.path));
      } catch (err) {
        this.#log.error("the open-files check failed; treating files as still written and retrying", err);
        writers = new Set(items.map((i) => i.path));
      }
      for (const item of items) {
        if (this.#waiting.get(item.path) !== item) continue;
        if (!writers.has(item.path)) {
          this.#waiting.delete(item.path);
          this.stats.promoted++;
          this.#o.promote(item.path, item.shared, "no-writer");
        } else if (now - item.firstSeen >= this.#o.maxWaitForNoWriters) {
          this.#waiting.delete(item.path);
          item.longSince = now;
          this.#long.set(item.path, item);
          this.stats.longPolled++;
          this.#log.info(`${item.path} is still open for writing after ${Math.round((now - item.firstSeen) / 1000)} s; long polling its content`);
          this.#scheduleLong();
        }
      }
    } finally {
      this.#busy = false;
    }
    if (this.#fresh.size) this.#schedulePoll(0);
    else if (this.#waiting.size) this.#schedulePoll(this.#o.pollInterval);
  }

  #scheduleLong(): void {
    if (this.#longTimer !== undefined) return;
    this.#longTimer = this.#o.context.clock.setTimeout(() => {
      this.#longTimer = undefined;
      void this.#o.context.work.run(() => this.#pollContent());
    }, this.#o.longPollingInterval);
  }

  async #pollContent(): Promise<void> {
    if (this.#longBusy) return;
    this.#longBusy = true;
    try {
      const items = [...this.#long.values()];
      if (items.length === 0) return;
      let fresh: Map<string, SharedSnapshot>;
      try {
        fresh = await this.#o.resnapshot(items.map((i) => i.path));
      } catch (err) {
        this.#log.error("taking a snapshot for long polling failed; will retry", err);
        return;
      }
      const writers = await this.#writers(items.map((i) => i.path)).catch(() => new Set(items.map((i) => i.path)));
      const now = this.#o.context.clock.now();
      for (const item of items) {
        const next = fresh.get(item.path);
        if (!next) continue;
        if (this.#long.get(item.path) !== item) {
          next.release();
          continue;
        }
        let reason: PromotionReason | undefined;
        if (!writers.has(item.path)) reason = "no-writer";
        else {
          const stable = await sameContent(item.shared.snapshot.pathOf(item.path), next.snapshot.pathOf(item.path)).catch(() => true);
          if (stable) reason = "content-stable";
          else if (now - (item.longSince ?? now) >= this.#o.maxLongPollingTime) reason = "deadline";
        }
        item.shared.release();
        item.shared = next;
        if (reason) {
          this.#long.delete(item.path);
          if (reason === "content-stable") this.stats.promotedStable++;
          if (reason === "deadline") {
            this.stats.promotedDeadline++;
            this.#log.warn(
              `${item.path} kept changing for ${Math.round((now - (item.longSince ?? now)) / 1000)} s of long polling; uploading it as of its latest snapshot`,
            );
          }
          this.stats.promoted++;
          this.#o.promote(item.path, next, reason);
        }
      }
    } finally {
      this.#longBusy = false;
      if (this.#long.size) this.#scheduleLong();
    }
  }
}
