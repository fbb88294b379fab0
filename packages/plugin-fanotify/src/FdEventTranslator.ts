import { constants as osConstants } from "node:os";
import { decodeName, type ChangeEvent } from "@rtbackup/core";
import { constants as C, type RawFanotifyEvent } from "./binding.js";
import type { FanotifyStats } from "./FanotifyStats.js";
import { DELETED_SUFFIX, parentOf } from "./paths.js";

/** Options of {@link FdEventTranslator}. */
export interface FdTranslatorOptions {
  /** Mount points marked with FAN_MARK_MOUNT in this group. */
  readonly mountPoints: readonly string[];
  readonly stats: FanotifyStats;
  /** Events of this process are not reported. */
  readonly ownPid?: number | undefined;
  /**
   * Ask for a rescan of the directory of every reported file, so that deletes and renames there (which fd mode
   * never reports) are found within seconds. Default false.
   */
  readonly rescanEventDirectories?: boolean;
  /** Told about every event the kernel could not deliver (errno of the failed open). */
  readonly onLost?: (errno: number) => void;
}

/** Reason of the targeted rescans asked for by {@link FdTranslatorOptions.rescanEventDirectories}. */
export const DIRECTORY_RESCAN_REASON = "fd mode: find deletes and renames in a directory that saw events";

/** `ENOENT` for 2, or `errno 2` when the name is unknown. */
export function errnoName(errno: number | undefined): string {
  if (errno === undefined) return "unknown error";
  for (const [name, value] of Object.entries(osConstants.errno)) if (value === errno) return name;
  return `errno ${errno}`;
}

/**
 * Turns fd-mode records (an open fd per event, already read as a path by the addon) into change events. fd mode only
 * sees modify / close-write; deletes and renames are found by rescans. A file deleted before its event was read
 * comes back as `… (deleted)`: its parent directory is rescanned. An event the kernel could not open a file for
 * (an error record, or a failed read) is one lost event: the mounts of the group are rescanned.
 */
export class FdEventTranslator {
  readonly #options: FdTranslatorOptions;

  constructor(options: FdTranslatorOptions) {
    this.#options = options;
  }

  /** Translates one batch, appending change events to `out`. */
  translate(events: readonly RawFanotifyEvent[], out: ChangeEvent[]): void {
    const { stats, ownPid, mountPoints, rescanEventDirectories } = this.#options;
    for (const event of events) {
      if (event.mask & C.FAN_Q_OVERFLOW) {
        if (event.error) {
          this.#lost(event.error, out);
          continue;
        }
        stats.overflows++;
        for (const path of mountPoints) out.push({ type: "rescan", path, reason: "fanotify queue overflow" });
        continue;
      }
      if (event.pid === ownPid) {
        stats.ignored++;
        continue;
      }
      const raw = event.path;
      const path = raw === undefined || typeof raw === "string" ? raw : decodeName(raw);
      if (path === undefined) {
        this.#lost(event.error, out);
      } else if (path.endsWith(DELETED_SUFFIX)) {
        stats.unresolved++;
        out.push({ type: "rescan", path: parentOf(path.slice(0, -DELETED_SUFFIX.length)), reason: "file deleted" });
      } else {
        out.push({ type: "update", path });
        if (rescanEventDirectories) out.push({ type: "rescan", path: parentOf(path), reason: DIRECTORY_RESCAN_REASON });
      }
    }
  }

  #lost(errno: number | undefined, out: ChangeEvent[]): void {
    this.#options.stats.lost++;
    this.#options.onLost?.(errno ?? 0);
    const reason = `fanotify lost an event: the kernel could not open its file (${errnoName(errno)})`;
    for (const path of this.#options.mountPoints) out.push({ type: "rescan", path, reason });
  }
}
