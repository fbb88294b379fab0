import type { ScanInfo } from "../types.js";

/** Result of one scan. */
export interface ScanResult {
  reason: ScanInfo["reason"];
  roots: string[];
  /** Paths walked (after filters). */
  seen: number;
  /** Paths queued for upload because they are new or changed. */
  changed: number;
  /**
   * Directories not walked because the filters exclude everything under them (the `excludesSubtree` hook): what the
   * state cache tracks there is gone, as when each path was asked.
   */
  excludedDirectories: number;
  /** Paths in the state cache that are gone. */
  deleted: number;
  /**
   * Paths that exist but could not be read (a directory that cannot be listed, a missing root, a filesystem that is
   * not mounted). Nothing under them was taken for deleted; their index entries are kept.
   */
  unreadable: { path: string; error: string }[];
  /** True when the scan was cancelled before it finished (it then deletes nothing). */
  cancelled: boolean;
  durationMs: number;
}
