import { agentOwnPaths, isAgentOwnPath } from "../defaults/ownPaths.js";
import { observe, syncBail } from "../hooks.js";
import { isErrno, messageOf } from "../errors.js";
import type { EntryStats } from "@rtbackup/linux-fs";
import type { Logger } from "../logger.js";
import { isUnder } from "../mounts/mountPaths.js";
import type { StageContext } from "../pipeline/StageContext.js";
import { unchangedOnDisk } from "../pipeline/identity.js";
import type { StateCache } from "../state/StateCache.js";
import type { IntakeRequest, ScanInfo } from "../types.js";
import { GoneTracker } from "./GoneTracker.js";
import { checkRootMounts } from "./rootMounts.js";
import type { ScanResult } from "./ScanResult.js";
import { walkDirectories, type WalkEntry } from "./walk.js";

/** Where a scan sends what it finds (the pipeline implements it). Each path was filtered once, by the scanner. */
export interface ScanOutput {
  /** A new or changed regular file: into intake's batch, to be snapshotted and read. */
  admitFile(path: string): void;
  /** A new or changed directory or symlink: metadata only, queued for upload at once. */
  admitMetadata(path: string): void;
  /** A tracked path the scan no longer found. */
  admitDelete(path: string): void;
  /** A FIFO, socket or device: recorded where the repository keeps it, else counted and warned about (never silently). */
  admitSpecial(path: string, stats: EntryStats): void;
  /** A file with more than one link: one of its names (see LinkNames). */
  noteLink(path: string, stats: EntryStats): void;
  /** Resolves when the pipeline has room again (back-pressure on the walk; a scan held here is not work in flight). */
  waitForRoom(): Promise<void>;
}

/** What a running or finished scan reports. */
export interface ScanStatus {
  running: boolean;
  reason?: ScanInfo["reason"];
  walked: number;
  queued: number;
  startedAt?: number;
  last?: ScanResult;
}

/** A scan waiting to run. */
interface ScanRequest {
  reason: ScanInfo["reason"];
  roots: string[] | undefined;
}

/**
 * The scanner is a change source: the initial backup, the start-up catch-up, periodic and overflow rescans and
 * requested subtree scans walk the roots and feed what changed (size, mtime, ctime, inode against the state cache)
 * into the pipeline, each path filtered once. What is gone becomes a delete, unless it could not be read (never
 * "deleted") or the scan was cancelled. Scans run one at a time; requests coalesce.
 */
export class Scanner {
  readonly #context: StageContext;
  readonly #cache: StateCache;
  readonly #out: ScanOutput;
  readonly #log: Logger;
  #queue: ScanRequest[] = [];
  #running: Promise<void> | undefined;
  #abort: AbortController | undefined;
  #periodicTimer: unknown;
  #closed = false;
  status: ScanStatus = { running: false, walked: 0, queued: 0 };

  constructor(context: StageContext, cache: StateCache, out: ScanOutput) {
    this.#context = context;
    this.#cache = cache;
    this.#out = out;
    this.#log = context.logger("runtime");
  }

  /** The roots scans walk: `backupRoots` through the `roots` hook. */
  async roots(): Promise<string[]> {
    return this.#context.hooks.roots.promise([...this.#context.parameters.backupRoots]);
  }

  /**
   * The `intake` hook as a scan asks it, once per path: true when the path is to be backed up. Without a promise per
   * path when every tap is synchronous ({@link syncBail}).
   */
  #intake(): (path: string) => boolean | Promise<boolean> {
    const hook = this.#context.hooks.intake;
    if (!hook.isUsed()) return () => true;
    const request = (path: string): IntakeRequest => ({ path, event: { type: "update", path } });
    const sync = syncBail(hook);
    if (sync) return (path) => sync(request(path)) !== "exclude";
    return async (path) => (await hook.promise(request(path))) !== "exclude";
  }

  /** Walks the roots (all of them, or `roots`) once; see the class. Back-pressure from the pipeline slows the walk. */
  scan(reason: ScanInfo["reason"], roots?: string[]): Promise<ScanResult> {
    return this.#context.work.run(() => this.#scan(reason, roots));
  }

  async #scan(reason: ScanInfo["reason"], roots: string[] | undefined): Promise<ScanResult> {
    const { hooks, clock } = this.#context;
    const started = clock.now();
    const list = roots ?? (await this.roots());
    const info: ScanInfo = { reason, roots: list };
    await hooks.beforeScan.promise(info);
    this.status = { running: true, reason, walked: 0, queued: 0, startedAt: started };
    observe(hooks.scan, { ...info, done: false }, this.#log);
    const walked = await this.#walkRoots(list);
    let deleted = 0;
    // A cancelled scan saw only part of the tree: it deletes nothing.
    for (const path of walked.cancelled ? [] : walked.gone.finish(walked.walkable, walked.unseen)) {
      deleted++;
      this.#out.admitDelete(path);
      await this.#out.waitForRoom();
    }
    const { seen, changed, excludedDirectories, unreadable, cancelled } = walked;
    const result: ScanResult = { reason, roots: list, seen, changed, excludedDirectories, deleted, unreadable, cancelled, durationMs: clock.now() - started };
    this.status = { running: false, walked: this.status.walked, queued: this.status.queued, last: result };
    observe(hooks.scan, { ...info, done: true, changed: changed + deleted }, this.#log);
    return result;
  }

  /** The walk of a scan: what it saw, what it queued, what it could not read, and what it must not take for gone. */
  async #walkRoots(list: string[]) {
    const own = agentOwnPaths(this.#context.parameters);
    const gone = new GoneTracker(this.#cache);
    // Filesystems mounted inside a root are not walked (their own roots cover them): never take their files for deleted.
    const otherFilesystems: string[] = [];
    // "Cannot read" is never "deleted": what lies under an unreadable path keeps its index entries.
    const unreadable: ScanResult["unreadable"] = [];
    const onUnreadable = (path: string, err: unknown) => {
      const error = isErrno(err, "ENOENT") ? "does not exist" : messageOf(err);
      unreadable.push({ path, error });
      this.#log.error(`cannot read ${path}: ${error}; nothing under it is taken for deleted`);
      observe(this.#context.hooks.failure, { path, stage: "scan", error: err, attempts: 1 }, this.#log);
    };
    for (const { root, error } of await checkRootMounts(this.#context.parameters.remoteFileStateCachePath, list)) onUnreadable(root, new Error(error));
    const walkable = list.filter((root) => !unreadable.some((u) => u.path === root));
    const signal = this.#abort?.signal;
    const counts = { seen: 0, changed: 0, excludedDirectories: 0 };
    const included = this.#intake();
    // Directories the intake excluded in the listing being handed on: the walk asks about each before entering it.
    const excluded = new Set<string>();
    const enter = this.#enterer(list, excluded, gone, counts);
    // A root inside another is walked on its own only when the outer walk did not list it (another filesystem, an
    // unreadable directory between them): each path is seen once. Outer roots come first in sorted order.
    const roots = new Set(walkable);
    const listed = new Set<string>();
    for (const root of [...walkable].sort()) {
      if (listed.has(root)) continue;
      const slices = walkDirectories(root, {
        skip: (p) => isAgentOwnPath(p, own),
        ...(enter ? { enter } : {}),
        onOtherFilesystem: (p) => otherFilesystems.push(p),
        ...(signal ? { signal } : {}),
        onUnreadable,
      });
      for await (const slice of slices) {
        if (slice.dir !== undefined) gone.kept(slice.dir, slice.kept);
        for (const entry of slice.entries) {
          // One promise per slice, not per entry: the intake is awaited only when a tap is async.
          const verdict = included(entry.path);
          if (!(verdict === true || (verdict !== false && (await verdict)))) {
            if (enter && entry.stats.isDirectory()) excluded.add(entry.path);
            continue;
          }
          if (!this.#take(entry, slice.dir, gone, counts)) continue;
          await this.#out.waitForRoom();
          if (signal?.aborted) break;
        }
        if (signal?.aborted) break;
        if (slice.complete && slice.dir !== undefined) {
          gone.complete(slice.dir);
          if (roots.has(slice.dir)) listed.add(slice.dir);
        }
      }
    }
    // A filesystem mounted inside a root that is itself walked as a root was seen through that root.
    const unseen = [...otherFilesystems.filter((m) => !list.includes(m)), ...unreadable.map((u) => u.path)];
    return { ...counts, gone, unreadable, walkable, unseen, cancelled: signal?.aborted ?? false };
  }

  /**
   * Whether the walk enters a directory: not when the intake hook excluded it (`excluded`, from the scan's own
   * answer for its entry), an `excludesSubtree` tap says everything under it is excluded too, and no root of the scan
   * lies inside it. Undefined (every directory entered) when nothing taps that hook.
   */
  #enterer(
    roots: readonly string[],
    excluded: Set<string>,
    gone: GoneTracker,
    counts: { excludedDirectories: number },
  ): ((path: string) => boolean) | undefined {
    const { hooks, parameters } = this.#context;
    if (!hooks.excludesSubtree.isUsed()) return undefined;
    const nested = [...new Set([...roots, ...parameters.backupRoots])];
    return (path) => {
      if (!excluded.delete(path)) return true;
      if (nested.some((root) => root !== path && isUnder(root, path))) return true;
      try {
        if (hooks.excludesSubtree.call(path) !== true) return true;
      } catch {
        // A tap that fails leaves the directory walked, each path asked, as if this hook were not tapped.
        return true;
      }
      counts.excludedDirectories++;
      gone.excludedSubtree(path);
      return false;
    };
  }

  /** One entry of the walk the intake included: counted, compared with the cache, queued when new or changed (then true). */
  #take({ path, name, stats }: WalkEntry, dir: string | undefined, gone: GoneTracker, counts: { seen: number; changed: number }): boolean {
    const cached = gone.take(dir, name, path, stats);
    counts.seen++;
    this.status.walked++;
    if (stats.nlink > 1 && stats.isFile()) this.#out.noteLink(path, stats);
    if (unchangedOnDisk(cached, stats)) return false;
    if (!stats.isFile() && !stats.isDirectory() && !stats.isSymbolicLink()) {
      this.#out.admitSpecial(path, stats);
      return false;
    }
    counts.changed++;
    this.status.queued++;
    // Directories and symlinks carry metadata only: no snapshot or stability check needed.
    if (stats.isFile()) this.#out.admitFile(path);
    else this.#out.admitMetadata(path);
    return true;
  }

  /**
   * Queues a scan (`roots` undefined: all roots). A full scan waiting already covers any subtree request, so
   * requests coalesce.
   */
  request(reason: ScanInfo["reason"], roots?: string[]): void {
    if (this.#closed) return;
    if (this.#queue.some((r) => r.roots === undefined)) return;
    if (roots === undefined) this.#queue = [{ reason, roots: undefined }];
    else {
      const pending = this.#queue.find((r) => r.roots);
      if (pending?.roots) {
        for (const root of roots) if (!pending.roots.some((r) => isUnder(root, r))) pending.roots.push(root);
      } else this.#queue.push({ reason, roots: [...roots] });
    }
    this.#running ??= this.#runQueued();
  }

  async #runQueued(): Promise<void> {
    try {
      while (this.#queue.length && !this.#closed) {
        const next = this.#queue.shift()!;
        this.#abort = new AbortController();
        try {
          const roots = next.roots ?? (await this.#context.work.run(() => this.roots()));
          const result = await this.scan(
            next.reason,
            roots.filter((r) => r.startsWith("/")),
          );
          const problems = result.unreadable.length ? `, ${result.unreadable.length} unreadable (kept, not deleted)` : "";
          const pruned = result.excludedDirectories ? `, ${result.excludedDirectories} excluded directories not walked` : "";
          this.#log.info(
            `${next.reason} scan: ${result.seen} paths, ${result.changed} changed, ${result.deleted} deleted${pruned}${problems}, ${(result.durationMs / 1000).toFixed(1)} s`,
          );
        } catch (err) {
          this.#log.error(`${next.reason} scan failed`, err);
        }
      }
    } finally {
      this.#running = undefined;
      this.#abort = undefined;
    }
  }

  /** Cancels the running scan (what it queued so far is still processed). */
  cancel(): boolean {
    if (!this.#abort) return false;
    this.#abort.abort();
    return true;
  }

  /** Resolves when no scan is running or queued. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Monitoring duties: a catch-up scan now (`initial`: the initial backup), then one every PeriodicRescanInterval. */
  startPeriodic(options: { initial?: boolean } = {}): void {
    this.request(options.initial ? "initial" : "startup");
    const schedule = () => {
      this.#periodicTimer = this.#context.clock.setTimeout(() => {
        this.request("periodic");
        schedule();
      }, this.#context.parameters.periodicRescanInterval);
    };
    schedule();
  }

  /** Stops: no new scans, the running one is cancelled, and waited for. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#context.clock.clearTimeout(this.#periodicTimer);
    this.cancel();
    await this.idle();
  }
}
