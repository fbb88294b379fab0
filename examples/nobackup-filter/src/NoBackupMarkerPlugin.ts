import { lstat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ConfigError, type BackupPlugin, type Engine, type IntakeRequest, type IntakeVerdict } from "@rtbackup/core";

const PLUGIN_NAME = "NoBackupMarkerPlugin";

/** Options of {@link NoBackupMarkerPlugin}. */
export interface NoBackupMarkerOptions {
  /** The marker's file name. Default `.nobackup`. */
  readonly marker: string;
}

/** Checks raw options (`undefined` takes every default); a bad value throws a ConfigError naming the option. */
export function parseNoBackupMarkerOptions(raw: unknown, where = "options"): NoBackupMarkerOptions {
  if (raw === undefined) return { marker: ".nobackup" };
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ConfigError(where, "expected an object");
  const o = raw as Record<string, unknown>;
  for (const key of Object.keys(o)) if (key !== "marker") throw new ConfigError(`${where}.${key}`, "unknown option");
  const marker = o.marker ?? ".nobackup";
  if (typeof marker !== "string" || marker === "" || marker === "." || marker === ".." || marker.includes("/") || marker.includes("\0")) {
    throw new ConfigError(`${where}.marker`, `expected a plain file name, got ${JSON.stringify(marker)}`);
  }
  return { marker };
}

/**
 * Leaves out every directory that holds a marker file (`.nobackup`), with its whole subtree, as tar's
 * `--exclude-tag-all` and several backup tools do. Taps `intake`: a path is excluded when it, or any directory
 * above it, contains the marker. Files backed up before a marker appeared are dropped from the index by the next
 * rescan (a scan records every tracked path it no longer sees as deleted); after a marker is removed, the
 * directory comes back with the next rescan or change.
 */
export class NoBackupMarkerPlugin implements BackupPlugin {
  readonly name = PLUGIN_NAME;
  readonly options: NoBackupMarkerOptions;

  constructor(options?: unknown) {
    this.options = parseNoBackupMarkerOptions(options);
  }

  apply(engine: Engine): void {
    engine.hooks.intake.tapPromise(PLUGIN_NAME, async (request: IntakeRequest): Promise<IntakeVerdict | undefined> =>
      (await this.isMarked(request.path)) ? "exclude" : undefined,
    );
  }

  /** True when `path` or one of the directories above it contains the marker file. */
  async isMarked(path: string): Promise<boolean> {
    for (let dir = path; ; dir = dirname(dir)) {
      // A missing or unreadable directory has no marker we can see; the path itself may be a file (ENOTDIR).
      if (
        await lstat(join(dir, this.options.marker)).then(
          () => true,
          () => false,
        )
      )
        return true;
      if (dir === dirname(dir)) return false;
    }
  }
}
