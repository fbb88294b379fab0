import type { ChangeEvent } from "@rtbackup/core";
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
}

/**
 * Turns fd-mode records (an open fd per event, already read as a path by the addon) into change events. fd mode only
 * sees modify / close-write; deletes and renames are found by rescans. A file deleted before its event was read
 * comes back as `… (deleted)`: its parent directory is rescanned.
 */
export class FdEventTranslator {
  readonly #options: FdTranslatorOptions;

  constructor(options: FdTranslatorOptions) {
    this.#options = options;
  }

  /** Translates one batch, appending change events to `out`. */
  translate(events: readonly RawFanotifyEvent[], out: ChangeEvent[]): void {
    const { stats, ownPid, mountPoints } = this.#options;
    for (const event of events) {
      if (event.mask & C.FAN_Q_OVERFLOW) {
        stats.overflows++;
        const reason = event.error ? `fanotify lost events (errno ${event.error})` : "fanotify queue overflow";
        for (const path of mountPoints) out.push({ type: "rescan", path, reason });
        continue;
      }
      if (event.pid === ownPid) {
        stats.ignored++;
        continue;
      }
      const path = event.path;
      if (path === undefined) {
        stats.unresolved++;
        for (const mountPoint of mountPoints) {
          out.push({ type: "rescan", path: mountPoint, reason: `path of an event could not be read (errno ${event.error})` });
        }
      } else if (path.endsWith(DELETED_SUFFIX)) {
        stats.unresolved++;
        out.push({ type: "rescan", path: parentOf(path.slice(0, -DELETED_SUFFIX.length)), reason: "file deleted" });
      } else {
        out.push({ type: "update", path });
      }
    }
  }
}
