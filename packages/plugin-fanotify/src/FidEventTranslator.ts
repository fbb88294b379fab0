import type { ChangeEvent } from "@rtbackup/core";
import { constants as C, type RawFanotifyEvent } from "./binding.js";
import type { DirectoryCache } from "./DirectoryCache.js";
import type { FanotifyStats } from "./FanotifyStats.js";
import { DELETED_SUFFIX, joinPath } from "./paths.js";

/** A marked filesystem of a FID-mode group: where it is mounted and an fd on that mount for open_by_handle_at. */
export interface FidMount {
  readonly mountPoint: string;
  readonly fd: number;
}

/** Options of {@link FidEventTranslator}. */
export interface FidTranslatorOptions {
  /** Marked filesystems by fsid (the first 16 hex characters of every handle key). */
  readonly mounts: ReadonlyMap<string, FidMount>;
  /** Current path of a handle (open_by_handle_at + /proc/self/fd); throws when it cannot (ESTALE: deleted). */
  readonly resolveHandle: (mountFd: number, key: string) => string;
  readonly cache: DirectoryCache;
  readonly stats: FanotifyStats;
  /** Events of this process are used to keep directory paths right but not reported. */
  readonly ownPid?: number | undefined;
}

const UPDATE_BITS = C.FAN_CREATE | C.FAN_MODIFY | C.FAN_CLOSE_WRITE | C.FAN_ATTRIB;

/**
 * Turns FID-mode records (parent directory handle + name) into change events, in kernel order. It learns the path of
 * every directory it sees created, renamed or deleted (from the child handle `FAN_REPORT_TARGET_FID` gives), so that
 * events inside a directory deleted before they were read still resolve. An event that cannot be resolved is held
 * until the end of the next batch (or {@link flush}), since the record that names its directory usually follows;
 * after that it becomes a rescan and is counted, never dropped.
 */
export class FidEventTranslator {
  readonly #options: FidTranslatorOptions;
  #pending: { event: RawFanotifyEvent; batches: number }[] = [];
  #missing = new Set<string>();

  constructor(options: FidTranslatorOptions) {
    this.#options = options;
  }

  /** Events still waiting for a directory path. */
  get pending(): number {
    return this.#pending.length;
  }

  /** Translates one batch, appending change events to `out`. */
  translate(events: readonly RawFanotifyEvent[], out: ChangeEvent[]): void {
    this.#missing.clear();
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (event.mask & C.FAN_Q_OVERFLOW) {
        this.#overflow(event, out);
        continue;
      }
      const next = events[i + 1];
      if (event.mask & C.FAN_MOVED_FROM && next && isMoveTarget(event, next)) {
        // Kernels without FAN_RENAME report a rename as MOVED_FROM then MOVED_TO from the same task.
        this.#apply(pairAsRename(event, next), out, false, 0);
        i++;
        continue;
      }
      this.#apply(event, out, false, 0);
    }
    this.#retry(out);
    // Held since the previous batch and still unresolved: give up on them. Held since this one: one more batch.
    const held = this.#pending;
    this.#pending = [];
    for (const p of held) {
      if (p.batches >= 1) this.#apply(p.event, out, true, 0);
      else this.#pending.push({ event: p.event, batches: 1 });
    }
  }

  /** Gives up on every held event: each becomes a rescan. */
  flush(out: ChangeEvent[]): void {
    this.#retry(out);
    const held = this.#pending;
    this.#pending = [];
    for (const { event } of held) this.#apply(event, out, true, 0);
  }

  /**
   * Retries held events until a pass resolves nothing more: resolving one (a directory's delete) teaches the path
   * of the directory the next one needs, and `rm -r` reports the deepest entries first.
   */
  #retry(out: ChangeEvent[]): void {
    while (this.#pending.length > 0) {
      const before = this.#pending.length;
      const held = this.#pending;
      this.#pending = [];
      this.#missing.clear();
      for (const { event, batches } of held) this.#apply(event, out, false, batches);
      if (this.#pending.length === before) return;
    }
  }

  #overflow(event: RawFanotifyEvent, out: ChangeEvent[]): void {
    this.#options.stats.overflows++;
    // Paths may have changed unseen; held events are covered by the rescan.
    this.#options.cache.clear();
    this.#pending = [];
    const reason = event.error ? `fanotify lost events (errno ${event.error})` : "fanotify queue overflow";
    for (const mount of this.#options.mounts.values()) out.push({ type: "rescan", path: mount.mountPoint, reason });
  }

  #apply(event: RawFanotifyEvent, out: ChangeEvent[], final: boolean, batches: number): void {
    const own = event.pid === this.#options.ownPid;
    const mask = event.mask;
    if (mask & C.FAN_RENAME) {
      const fromDir = this.#dirPath(event.dir);
      const toDir = this.#dirPath(event.dir2);
      if (fromDir !== undefined && toDir !== undefined) {
        const from = joinPath(fromDir, event.name ?? "");
        const to = joinPath(toDir, event.name2 ?? "");
        if (mask & C.FAN_ONDIR) {
          this.#options.cache.rename(from, to);
          if (event.fid) this.#options.cache.set(event.fid, to);
        }
        if (own) this.#options.stats.ignored++;
        else out.push({ type: "move", from, to });
        return;
      }
      if (!final) return this.#hold(event, batches);
      this.#options.stats.unresolved++;
      if (own) return;
      if (fromDir !== undefined) {
        // The destination directory is gone, so whatever moved into it is gone too.
        out.push({ type: "delete", path: joinPath(fromDir, event.name ?? "") });
      } else {
        if (toDir !== undefined) out.push(arrived(joinPath(toDir, event.name2 ?? ""), mask));
        this.#rescanFilesystemOf(event.dir, "source directory of a rename could not be resolved", out);
      }
      return;
    }
    if (event.dir === undefined) {
      // An unlinked file's last attribute change (link count): it has no parent any more; its delete covers it.
      this.#options.stats.orphans++;
      return;
    }
    const dir = this.#dirPath(event.dir);
    if (dir === undefined) {
      if (!final) return this.#hold(event, batches);
      this.#options.stats.unresolved++;
      if (!own) this.#rescanFilesystemOf(event.dir, "directory of an event could not be resolved", out);
      return;
    }
    const isSelf = event.name === undefined || event.name === ".";
    const path = isSelf ? dir : joinPath(dir, event.name!);
    if (mask & C.FAN_ONDIR && event.fid && !isSelf) this.#options.cache.set(event.fid, path);
    if (own) {
      this.#options.stats.ignored++;
      return;
    }
    if (mask & C.FAN_MOVED_FROM) out.push({ type: "delete", path });
    else if (mask & C.FAN_MOVED_TO) out.push(arrived(path, mask));
    else if (mask & C.FAN_DELETE && !(mask & UPDATE_BITS)) out.push({ type: "delete", path });
    else out.push({ type: "update", path });
  }

  #hold(event: RawFanotifyEvent, batches: number): void {
    this.#pending.push({ event, batches });
  }

  #dirPath(key: string | undefined): string | undefined {
    if (key === undefined) return undefined;
    const { cache, mounts, resolveHandle } = this.#options;
    const known = cache.get(key);
    if (known !== undefined) return known;
    if (this.#missing.has(key)) return undefined;
    const mount = mounts.get(key.slice(0, 16));
    let path: string | undefined;
    if (mount) {
      try {
        path = resolveHandle(mount.fd, key);
      } catch {
        path = undefined;
      }
    }
    if (path === undefined || path.endsWith(DELETED_SUFFIX)) {
      this.#missing.add(key);
      return undefined;
    }
    cache.set(key, path);
    return path;
  }

  #rescanFilesystemOf(key: string | undefined, reason: string, out: ChangeEvent[]): void {
    const mount = key === undefined ? undefined : this.#options.mounts.get(key.slice(0, 16));
    const targets = mount ? [mount] : [...this.#options.mounts.values()];
    for (const m of targets) out.push({ type: "rescan", path: m.mountPoint, reason });
  }
}

/** A file that arrived by rename is an update; a directory brings a subtree, which needs a rescan. */
function arrived(path: string, mask: number): ChangeEvent {
  return mask & C.FAN_ONDIR ? { type: "rescan", path, reason: "directory moved in" } : { type: "update", path };
}

function isMoveTarget(from: RawFanotifyEvent, to: RawFanotifyEvent): boolean {
  return (to.mask & C.FAN_MOVED_TO) !== 0 && to.pid === from.pid && (to.mask & C.FAN_ONDIR) === (from.mask & C.FAN_ONDIR) && to.fid === from.fid;
}

function pairAsRename(from: RawFanotifyEvent, to: RawFanotifyEvent): RawFanotifyEvent {
  return {
    mask: C.FAN_RENAME | (from.mask & C.FAN_ONDIR),
    pid: from.pid,
    ...(from.dir === undefined ? {} : { dir: from.dir }),
    ...(from.name === undefined ? {} : { name: from.name }),
    ...(to.dir === undefined ? {} : { dir2: to.dir }),
    ...(to.name === undefined ? {} : { name2: to.name }),
    ...(from.fid === undefined ? {} : { fid: from.fid }),
  };
}
