import { lstat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { PluginOptions, checkedKind, type BackupPlugin, type Engine, type IntakeRequest, type IntakeVerdict } from "@rtbackup/core";

const PLUGIN_NAME = "NoBackupMarkerPlugin";

/** Options of {@link NoBackupMarkerPlugin}. */
export interface NoBackupMarkerOptions {
  /** The marker's file name. Default `.nobackup`. */
  readonly marker: string;
}

/** A plain file name: not empty, not `.` or `..`, no `/` and no NUL. */
const markerKind = checkedKind<string>(
  "a plain file name",
  (v) => typeof v === "string" && v !== "" && v !== "." && v !== ".." && !v.includes("/") && !v.includes("\0"),
);

/**
 * Checks raw options with core's {@link PluginOptions} (`undefined` or `null` takes every default); a bad value
 * throws a ConfigError naming `NoBackupMarkerPlugin.options.<option>`.
 */
export function parseNoBackupMarkerOptions(raw: unknown): NoBackupMarkerOptions {
  const o = PluginOptions.read(PLUGIN_NAME, raw, ["marker"]);
  return { marker: o.get("marker", markerKind, ".nobackup") };
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
