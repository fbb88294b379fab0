import { closeSync, constants as fsConstants, openSync } from "node:fs";
import { BackupError, type ChangeEvent, type MountInfo, type SourceHealthReport } from "@rtbackup/core";
import { constants as C, errnoOf, FanotifyGroup, fsidOf, resolveHandle, type RawFanotifyEvent } from "./binding.js";
import { DirectoryCache } from "./DirectoryCache.js";
import { emptyFanotifyStats, type FanotifyStats } from "./FanotifyStats.js";
import { explainFanotifyError } from "./fanotifyErrors.js";
import { errnoName, FdEventTranslator } from "./FdEventTranslator.js";
import { FidEventTranslator, type FidMount } from "./FidEventTranslator.js";
import { EventSink } from "./EventSink.js";
import { GroupWatch } from "./GroupWatch.js";
import { markFilesystem, openFdGroup, openFidGroup } from "./openGroup.js";
import { RescanCoalescer } from "./RescanCoalescer.js";
import type { FanotifySourceConfig } from "./FanotifySourceConfig.js";

export type { FanotifySourceConfig } from "./FanotifySourceConfig.js";

/** How one mount ended up being watched. */
export interface WatchedMount {
  readonly mountPoint: string;
  readonly fsType: string;
  readonly mode: "fid" | "fd";
}

const ENODEV = 19;
const EXDEV = 18;
const EOPNOTSUPP = 95;
/** How long an event waiting for its directory's path may wait when no further batch comes. */
const PENDING_FLUSH_MS = 100;

/**
 * The running fanotify source: up to two groups (FID mode on filesystems that report file handles, fd mode on the
 * rest, e.g. zfs-fuse), their marks, and the translation of each delivered batch into change events.
 */
export class FanotifySource {
  readonly stats: FanotifyStats = emptyFanotifyStats();
  readonly #config: FanotifySourceConfig;
  readonly #cache: DirectoryCache;
  readonly #fidMounts = new Map<string, FidMount>();
  readonly #watched: WatchedMount[] = [];
  readonly #fdMountPoints: string[] = [];
  readonly #ownPid: number | undefined;
  #fidGroup: FanotifyGroup | undefined;
  #fdGroup: FanotifyGroup | undefined;
  #fidTranslator: FidEventTranslator | undefined;
  #fdTranslator: FdEventTranslator | undefined;
  #fidMask = 0;
  #flushTimer: NodeJS.Timeout | undefined;
  #paused = false;
  #closed = false;
  #reportsFdErrors = false;
  #lastError: string | undefined;
  #degraded = false;
  readonly #rescans: RescanCoalescer;
  readonly #sink: EventSink;
  readonly #fidWatch: GroupWatch;
  readonly #fdWatch: GroupWatch;

  constructor(config: FanotifySourceConfig) {
    this.#config = config;
    this.#cache = new DirectoryCache(config.directoryCacheSize);
    this.#ownPid = config.ignoreOwnProcess ? process.pid : undefined;
    const clock = config.clock;
    this.#rescans = new RescanCoalescer({
      quietMs: config.rescanDelay,
      maxDelayMs: config.rescanDelay * 10,
      emit: (events) => this.#emitRescans(events),
      ...(clock ? { clock } : {}),
    });
    this.#sink = new EventSink({ ...config, stats: this.stats, rescans: this.#rescans });
    const watch = (name: "fid" | "fd") =>
      new GroupWatch({
        name,
        logger: config.logger,
        ...(clock ? { clock } : {}),
        recreate: () => this.#recreate(name),
        recovered: () => {
          this.stats.groupsRecreated++;
          this.#health();
          const mounts = name === "fd" ? this.#fdMountPoints : [...this.#fidMounts.values()].map((m) => m.mountPoint);
          for (const path of mounts) this.#rescans.add(path, `fanotify ${name} group re-created`);
        },
        failed: (err) => {
          this.#lastError = `re-creating the ${name} group: ${(err as Error).message}`;
          this.#health();
        },
      });
    this.#fidWatch = watch("fid");
    this.#fdWatch = watch("fd");
  }

  /** The mounts being watched and in which mode. */
  get watched(): readonly WatchedMount[] {
    return this.#watched;
  }

  /** Opens the groups, marks every mount, and starts delivering. On failure everything opened is closed again. */
  open(): void {
    try {
      for (const mount of this.#config.mounts) this.#markMount(mount);
      if (this.#fidGroup && this.#fidMounts.size === 0) {
        // Every filesystem fell back to fd mode: the FID group has no mark left to serve.
        this.#fidGroup.close();
        this.#fidGroup = undefined;
      }
      this.#startGroups();
    } catch (err) {
      this.close();
      throw err;
    }
    this.#health();
  }

  /** Whether the fd-mode group got FAN_REPORT_FD_ERROR (else a failed per-event open fails a read instead). */
  get reportsFdErrors(): boolean {
    return this.#reportsFdErrors;
  }

  /**
   * How the source is: `stopped` while a group is dead (being re-created) or after close, `degraded` while lost
   * events wait for their rescan, else `watching`.
   */
  get state(): SourceHealthReport["state"] {
    if (this.#closed || this.#fidWatch.pending || this.#fdWatch.pending) return "stopped";
    return this.#degraded ? "degraded" : "watching";
  }

  #health(): void {
    const fid = this.#watched.filter((w) => w.mode === "fid").length;
    this.#config.onHealth?.({
      state: this.state,
      eventsLost: this.stats.lost + this.stats.overflows,
      lastError: this.#lastError,
      detail: `${fid} mounts in fid mode, ${this.#watched.length - fid} in fd mode`,
    });
  }

  /**
   * Watches a filesystem mounted after start-up (a new dataset) and asks for a rescan of it, since whatever it held
   * before the mark was never reported. Returns false (and logs) when it cannot be marked.
   */
  addMount(mount: MountInfo): boolean {
    if (this.#closed || this.#watched.some((w) => w.mountPoint === mount.mountPoint)) return false;
    try {
      this.#markMount(mount);
      this.#startGroups();
    } catch (err) {
      this.#config.logger.error(`cannot watch newly mounted ${mount.mountPoint}`, err);
      return false;
    }
    this.#config.logger.info(`watching newly mounted ${mount.mountPoint} (${mount.fsType})`);
    this.#sink.submitAll([{ type: "rescan", path: mount.mountPoint, reason: "filesystem mounted" }]);
    return true;
  }

  /** Forgets a mount that went away (the kernel drops a mark when its filesystem is unmounted). */
  removeMount(mountPoint: string): void {
    const index = this.#watched.findIndex((w) => w.mountPoint === mountPoint);
    if (index < 0) return;
    this.#watched.splice(index, 1);
    for (const [fsid, mount] of this.#fidMounts) {
      if (mount.mountPoint !== mountPoint) continue;
      closeSync(mount.fd);
      this.#fidMounts.delete(fsid);
    }
    const fdIndex = this.#fdMountPoints.indexOf(mountPoint);
    if (fdIndex >= 0) this.#fdMountPoints.splice(fdIndex, 1);
    this.#config.logger.info(`${mountPoint} is no longer mounted`);
  }

  #startGroups(): void {
    if (this.#fidGroup && !this.#fidTranslator) {
      this.#fidTranslator = new FidEventTranslator({
        mounts: this.#fidMounts,
        resolveHandle,
        cache: this.#cache,
        stats: this.stats,
        ownPid: this.#ownPid,
      });
      const translator = this.#fidTranslator;
      this.#fidGroup.start((error, events) =>
        this.#deliver(
          "fid",
          translator,
          [...this.#fidMounts.values()].map((m) => m.mountPoint),
          error,
          events,
        ),
      );
      if (this.#paused) this.#fidGroup.stop();
    }
    if (this.#fdGroup && !this.#fdTranslator) {
      const translator = new FdEventTranslator({
        mountPoints: this.#fdMountPoints,
        stats: this.stats,
        ownPid: this.#ownPid,
        rescanEventDirectories: this.#config.rescanEventDirectories,
        onLost: (errno) => {
          this.#lastError = `fanotify could not open an event's file (${errnoName(errno)})`;
          this.#degraded = true;
        },
      });
      this.#fdTranslator = translator;
      this.#fdGroup.start((error, events) => this.#deliver("fd", translator, this.#fdMountPoints, error, events));
      if (this.#paused) this.#fdGroup.stop();
    }
  }

  /** Stops reading; the kernel keeps queueing (and overflows into a rescan when its queue is full). */
  pause(): void {
    this.#paused = true;
    this.#fidGroup?.stop();
    this.#fdGroup?.stop();
  }

  /** Resumes reading after {@link pause}. */
  resume(): void {
    if (this.#closed || !this.#paused) return;
    this.#paused = false;
    this.#fidGroup?.start();
    this.#fdGroup?.start();
  }

  /** Lets the process exit while watching (tests, one-shot tools). */
  unref(): void {
    this.#fidGroup?.unref();
    this.#fdGroup?.unref();
  }

  /** Stops delivery, closes the groups (removing their marks) and the mount fds. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#rescans.close();
    this.#fidWatch.close();
    this.#fdWatch.close();
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#fidGroup?.close();
    this.#fdGroup?.close();
    this.#fidGroup = undefined;
    this.#fdGroup = undefined;
    for (const mount of this.#fidMounts.values()) closeSync(mount.fd);
    this.#fidMounts.clear();
    this.#cache.clear();
    this.#config.onHealth?.({ state: "stopped", eventsLost: this.stats.lost + this.stats.overflows });
  }

  #markMount(mount: MountInfo): void {
    const { mode } = this.#config;
    if (mode !== "fd") {
      try {
        this.#markFid(mount);
        return;
      } catch (err) {
        const errno = errnoOf(err);
        const noFid = errno === ENODEV || errno === EOPNOTSUPP || errno === EXDEV;
        if (mode === "fid" || !noFid) {
          if (noFid) {
            throw new BackupError("SOURCE_FAILED", `${mount.mountPoint} (${mount.fsType}) cannot report file handles to fanotify; use mode "fd" or "auto"`, {
              cause: err,
            });
          }
          throw err;
        }
        this.#config.logger.info(
          `${mount.mountPoint} (${mount.fsType}) has no file-handle support (errno ${errno}); watching it in fd mode, ` +
            "where deletes and renames are only found by rescans",
        );
      }
    }
    this.#markFd(mount);
  }

  #markFid(mount: MountInfo): void {
    const group = this.#ensureFidGroup();
    this.#fidMask = markFilesystem(group, mount.mountPoint, this.#fidMask, this.#config.renameEvents);
    const fsid = fsidOf(mount.mountPoint);
    if (this.#fidMounts.has(fsid)) {
      this.#config.logger.warn(`${mount.mountPoint} shares its fsid with ${this.#fidMounts.get(fsid)!.mountPoint}`);
    } else {
      const fd = openSync(mount.mountPoint, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
      this.#fidMounts.set(fsid, { mountPoint: mount.mountPoint, fd });
    }
    this.#watched.push({ mountPoint: mount.mountPoint, fsType: mount.fsType, mode: "fid" });
  }

  #markFd(mount: MountInfo): void {
    const group = this.#ensureFdGroup();
    try {
      group.mark(mount.mountPoint, C.FAN_MARK_ADD | C.FAN_MARK_MOUNT, C.FAN_MODIFY | C.FAN_CLOSE_WRITE);
    } catch (err) {
      throw explainFanotifyError(err, { syscall: "fanotify_mark", what: "mount marks", path: mount.mountPoint });
    }
    this.#fdMountPoints.push(mount.mountPoint);
    this.#watched.push({ mountPoint: mount.mountPoint, fsType: mount.fsType, mode: "fd" });
  }

  #ensureFidGroup(): FanotifyGroup {
    this.#fidGroup ??= openFidGroup(this.#config);
    return this.#fidGroup;
  }

  #ensureFdGroup(): FanotifyGroup {
    if (this.#fdGroup) return this.#fdGroup;
    const { group, reportsFdErrors } = openFdGroup(this.#config);
    this.#reportsFdErrors = reportsFdErrors;
    this.#fdGroup = group;
    return group;
  }

  /** Re-opens group `name` after a read error ended it, with the marks it had, and starts delivery again. */
  #recreate(name: "fid" | "fd"): void {
    const fd = name === "fd";
    (fd ? this.#fdGroup : this.#fidGroup)?.close();
    if (fd) [this.#fdGroup, this.#fdTranslator] = [undefined, undefined];
    else [this.#fidGroup, this.#fidTranslator] = [undefined, undefined];
    const group = fd ? this.#ensureFdGroup() : this.#ensureFidGroup();
    const mountPoints = fd ? this.#fdMountPoints : [...this.#fidMounts.values()].map((m) => m.mountPoint);
    for (const mountPoint of mountPoints) {
      if (fd) group.mark(mountPoint, C.FAN_MARK_ADD | C.FAN_MARK_MOUNT, C.FAN_MODIFY | C.FAN_CLOSE_WRITE);
      else group.mark(mountPoint, C.FAN_MARK_ADD | C.FAN_MARK_FILESYSTEM, this.#fidMask);
    }
    this.#startGroups();
  }

  #deliver(
    name: "fid" | "fd",
    translator: FidEventTranslator | FdEventTranslator,
    mountPoints: readonly string[],
    error: Error | null,
    events: RawFanotifyEvent[],
  ): void {
    const out: ChangeEvent[] = [];
    try {
      this.stats.batches++;
      this.stats.events += events.length;
      translator.translate(events, out);
      if (error) {
        this.stats.readErrors++;
        this.#lastError = `reading ${name} group events: ${error.message}`;
        this.#config.logger.error(`reading fanotify events for ${mountPoints.join(", ")} failed; re-creating the group`, error);
        this.#config.onError?.(error, mountPoints);
        for (const path of mountPoints) out.push({ type: "rescan", path, reason: "fanotify read failed" });
      }
      if (translator instanceof FidEventTranslator) this.#scheduleFlush(translator);
    } catch (err) {
      // Never let one bad batch stop the source: say so and rescan what it covered.
      this.#config.logger.error("translating fanotify events failed", err);
      for (const path of mountPoints) out.push({ type: "rescan", path, reason: "fanotify batch failed" });
    }
    this.#sink.submitAll(out);
    if (error && !this.#closed) (name === "fd" ? this.#fdWatch : this.#fidWatch).lost();
    if (this.#degraded || error) this.#health();
  }

  #emitRescans(events: readonly ChangeEvent[]): void {
    for (const event of events) this.#sink.submit(event);
    this.stats.rescans += events.length;
    if (this.#degraded) {
      // The rescans covering every event lost so far are queued in the engine now.
      this.#degraded = false;
      this.#health();
    }
  }

  #scheduleFlush(translator: FidEventTranslator): void {
    if (this.#flushTimer || translator.pending === 0) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      if (this.#closed) return;
      const out: ChangeEvent[] = [];
      translator.flush(out);
      this.#sink.submitAll(out);
    }, PENDING_FLUSH_MS);
    this.#flushTimer.unref();
  }
}
