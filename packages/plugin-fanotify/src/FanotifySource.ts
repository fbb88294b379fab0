import { closeSync, constants as fsConstants, openSync } from "node:fs";
import { BackupError, isUnder, type ChangeEvent, type Logger, type MountInfo } from "@rtbackup/core";
import { constants as C, FanotifyGroup, fsidOf, resolveHandle, type RawFanotifyEvent } from "./binding.js";
import { DirectoryCache } from "./DirectoryCache.js";
import { emptyFanotifyStats, type FanotifyStats } from "./FanotifyStats.js";
import { explainFanotifyError } from "./fanotifyErrors.js";
import { FdEventTranslator } from "./FdEventTranslator.js";
import { FidEventTranslator, type FidMount } from "./FidEventTranslator.js";
import { errnoOf } from "./binding.js";

/** What {@link FanotifySource} needs: the mounts to watch and where events go. */
export interface FanotifySourceConfig {
  readonly mounts: readonly MountInfo[];
  readonly mode: "auto" | "fid" | "fd";
  readonly queue: "default" | "unlimited";
  readonly ignorePaths: readonly string[];
  readonly ignoreOwnProcess: boolean;
  readonly readBufferSize: number;
  readonly maxReadsPerWakeup: number;
  readonly directoryCacheSize: number;
  readonly renameEvents: boolean;
  readonly logger: Logger;
  /** Receives every change event (the engine's submit). */
  readonly submit: (event: ChangeEvent) => void;
  /** Told about read errors on a group (the engine's failure observer). */
  readonly onError?: (error: Error, mountPoints: readonly string[]) => void;
}

/** How one mount ended up being watched. */
export interface WatchedMount {
  readonly mountPoint: string;
  readonly fsType: string;
  readonly mode: "fid" | "fd";
}

const ENODEV = 19;
const EXDEV = 18;
const EOPNOTSUPP = 95;
const EINVAL = 22;
const SNAPSHOT_DIR = /\/\.zfs\/snapshot(\/|$)/;
/** How long an event waiting for its directory's path may wait when no further batch comes. */
const PENDING_FLUSH_MS = 100;
/** fd mode opens one fd per event in the read buffer: keep that well under any sane RLIMIT_NOFILE. */
const FD_MODE_BUFFER = 24 * 256;

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

  constructor(config: FanotifySourceConfig) {
    this.#config = config;
    this.#cache = new DirectoryCache(config.directoryCacheSize);
    this.#ownPid = config.ignoreOwnProcess ? process.pid : undefined;
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
    this.#submitAll([{ type: "rescan", path: mount.mountPoint, reason: "filesystem mounted" }]);
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
        this.#deliver(translator, [...this.#fidMounts.values()].map((m) => m.mountPoint), error, events),
      );
      if (this.#paused) this.#fidGroup.stop();
    }
    if (this.#fdGroup && !this.#fdTranslator) {
      const translator = new FdEventTranslator({
        mountPoints: this.#fdMountPoints,
        stats: this.stats,
        ownPid: this.#ownPid,
      });
      this.#fdTranslator = translator;
      this.#fdGroup.start((error, events) => this.#deliver(translator, this.#fdMountPoints, error, events));
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
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#fidGroup?.close();
    this.#fdGroup?.close();
    this.#fidGroup = undefined;
    this.#fdGroup = undefined;
    for (const mount of this.#fidMounts.values()) closeSync(mount.fd);
    this.#fidMounts.clear();
    this.#cache.clear();
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
            throw new BackupError(
              "SOURCE_FAILED",
              `${mount.mountPoint} (${mount.fsType}) cannot report file handles to fanotify; use mode "fd" or "auto"`,
              { cause: err },
            );
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
    const base = C.FAN_CREATE | C.FAN_DELETE | C.FAN_MODIFY | C.FAN_CLOSE_WRITE | C.FAN_ATTRIB | C.FAN_ONDIR;
    const candidates = this.#fidMask
      ? [this.#fidMask]
      : this.#config.renameEvents
        ? [base | C.FAN_RENAME, base | C.FAN_MOVED_FROM | C.FAN_MOVED_TO]
        : [base | C.FAN_MOVED_FROM | C.FAN_MOVED_TO];
    let lastError: unknown;
    for (const mask of candidates) {
      try {
        group.mark(mount.mountPoint, C.FAN_MARK_ADD | C.FAN_MARK_FILESYSTEM, mask);
        this.#fidMask = mask;
        lastError = undefined;
        break;
      } catch (err) {
        lastError = err;
        // EINVAL for FAN_RENAME means a kernel before 5.17: fall back to MOVED_FROM/MOVED_TO pairs.
        if (errnoOf(err) !== EINVAL) break;
      }
    }
    if (lastError !== undefined) {
      const errno = errnoOf(lastError);
      if (errno === ENODEV || errno === EOPNOTSUPP || errno === EXDEV) throw lastError;
      throw explainFanotifyError(lastError, {
        syscall: "fanotify_mark",
        what: "filesystem marks with directory-entry events (FAN_MARK_FILESYSTEM, Linux ≥ 5.1)",
        path: mount.mountPoint,
      });
    }
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

  #queueFlag(): number {
    return this.#config.queue === "unlimited" ? C.FAN_UNLIMITED_QUEUE : 0;
  }

  #ensureFidGroup(): FanotifyGroup {
    if (this.#fidGroup) return this.#fidGroup;
    const fid = C.FAN_CLASS_NOTIF | C.FAN_REPORT_FID | C.FAN_REPORT_DIR_FID | C.FAN_REPORT_NAME | this.#queueFlag();
    const eventFlags = C.O_RDONLY | C.O_LARGEFILE | C.O_CLOEXEC;
    const { readBufferSize, maxReadsPerWakeup } = this.#config;
    try {
      this.#fidGroup = new FanotifyGroup(fid | C.FAN_REPORT_TARGET_FID, eventFlags, readBufferSize, maxReadsPerWakeup);
    } catch (err) {
      if (errnoOf(err) !== EINVAL) throw explainFanotifyError(err, { syscall: "fanotify_init", what: "fanotify" });
      // Before Linux 5.17 there is no FAN_REPORT_TARGET_FID; directory paths are then learnt from the kernel only.
      try {
        this.#fidGroup = new FanotifyGroup(fid, eventFlags, readBufferSize, maxReadsPerWakeup);
      } catch (err2) {
        throw explainFanotifyError(err2, {
          syscall: "fanotify_init",
          what: "FAN_REPORT_DFID_NAME (Linux ≥ 5.9); use mode \"fd\"",
        });
      }
    }
    return this.#fidGroup;
  }

  #ensureFdGroup(): FanotifyGroup {
    if (this.#fdGroup) return this.#fdGroup;
    try {
      this.#fdGroup = new FanotifyGroup(
        C.FAN_CLASS_NOTIF | this.#queueFlag(),
        C.O_RDONLY | C.O_LARGEFILE | C.O_CLOEXEC,
        FD_MODE_BUFFER,
        this.#config.maxReadsPerWakeup,
      );
    } catch (err) {
      throw explainFanotifyError(err, { syscall: "fanotify_init", what: "fanotify" });
    }
    return this.#fdGroup;
  }

  #deliver(
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
        this.#config.logger.error(`reading fanotify events for ${mountPoints.join(", ")} failed`, error);
        this.#config.onError?.(error, mountPoints);
        for (const path of mountPoints) out.push({ type: "rescan", path, reason: "fanotify read failed" });
      }
      if (translator instanceof FidEventTranslator) this.#scheduleFlush(translator);
    } catch (err) {
      // Never let one bad batch stop the source: say so and rescan what it covered.
      this.#config.logger.error("translating fanotify events failed", err);
      for (const path of mountPoints) out.push({ type: "rescan", path, reason: "fanotify batch failed" });
    }
    this.#submitAll(out);
  }

  #scheduleFlush(translator: FidEventTranslator): void {
    if (this.#flushTimer || translator.pending === 0) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      if (this.#closed) return;
      const out: ChangeEvent[] = [];
      translator.flush(out);
      this.#submitAll(out);
    }, PENDING_FLUSH_MS);
    this.#flushTimer.unref();
  }

  #submitAll(out: readonly ChangeEvent[]): void {
    // Collapse repeated updates of one path within a batch; any other event ends the run, to keep order meaningful.
    const seen = new Set<string>();
    for (const raw of out) {
      const event = this.#filter(raw);
      if (event === undefined) {
        this.stats.ignored++;
        continue;
      }
      if (event.type === "update") {
        if (seen.has(event.path)) {
          this.stats.deduplicated++;
          continue;
        }
        seen.add(event.path);
      } else {
        seen.clear();
      }
      try {
        this.#config.submit(event);
        this.stats.submitted++;
      } catch (err) {
        if (this.stats.submitErrors++ === 0) this.#config.logger.error("engine refused a fanotify event", err);
      }
    }
  }

  #filter(event: ChangeEvent): ChangeEvent | undefined {
    if (event.type !== "move") return this.#ignored(event.path) ? undefined : event;
    const fromIgnored = this.#ignored(event.from);
    const toIgnored = this.#ignored(event.to);
    if (fromIgnored && toIgnored) return undefined;
    if (toIgnored) return { type: "delete", path: event.from };
    if (fromIgnored) return { type: "rescan", path: event.to, reason: "moved in from an ignored path" };
    return event;
  }

  #ignored(path: string): boolean {
    if (path.includes("/.zfs/") && SNAPSHOT_DIR.test(path)) return true;
    for (const prefix of this.#config.ignorePaths) if (isUnder(path, prefix)) return true;
    return false;
  }
}
