import type { ChangeEvent, Clock, Logger, MountInfo, SourceHealthReport } from "@rtbackup/core";

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
  /** fd mode: ask the kernel for per-event open errors (FAN_REPORT_FD_ERROR) where it has them. */
  readonly reportFdErrors: boolean;
  /** Rescans are coalesced until none came for this long (ms), and held at most ten times as long. */
  readonly rescanDelay: number;
  /** fd mode: rescan the directory of every reported file, to find deletes and renames there within seconds. */
  readonly rescanEventDirectories: boolean;
  readonly logger: Logger;
  /** Told whenever the source's health changes (the engine's source-health board). */
  readonly onHealth?: (report: SourceHealthReport) => void;
  /** Timers of the rescan coalescer and of group re-creation. */
  readonly clock?: Clock;
  /** Receives every change event (the engine's submit). */
  readonly submit: (event: ChangeEvent) => void;
  /** Told about read errors that ended a group (the engine's failure observer). */
  readonly onError?: (error: Error, mountPoints: readonly string[]) => void;
}
