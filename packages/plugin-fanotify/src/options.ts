import { PluginOptions, booleanKind, durationRangeKind, enumKind, integerKind, nonEmptyTextKind, pathKind } from "@rtbackup/core";

/** Options of {@link FanotifySourcePlugin}. Everything is optional; the engine's parameters fill the rest. */
export interface FanotifySourceOptions {
  /**
   * Watch exactly these mount points instead of selecting by type. Each must be a mount point when the engine
   * starts, or start-up fails with a ConfigError.
   */
  readonly mountPoints?: readonly string[];
  /** Filesystem types to watch; default `parameters.monitorFileSystemTypes` (`zfs`, which also matches `fuse.zfs`). */
  readonly fileSystemTypes?: readonly string[];
  /** Mount points preferred among bind mounts of one filesystem; default `parameters.preferredMountPoints`. */
  readonly preferredMountPoints?: readonly string[];
  /** `auto` (FID where the filesystem supports it, fd mode elsewhere), `fid` (fail otherwise) or `fd`. Default `auto`. */
  readonly mode?: "auto" | "fid" | "fd";
  /** Kernel queue: `default` (16,384 events, then overflow → rescan) or `unlimited`; default `parameters.fanotifyQueue`. */
  readonly queue?: "default" | "unlimited";
  /** Path prefixes whose events are dropped (staging, snapshot clones). `parameters.stagingDirectory` is always added. */
  readonly ignorePaths?: readonly string[];
  /** Drop events caused by this process (the agent's own writes). Default true. */
  readonly ignoreOwnProcess?: boolean;
  /** Read buffer of a FID-mode group, bytes (4 KiB … 64 MiB). Default 262144. */
  readonly readBufferSize?: number;
  /** Reads per event-loop wakeup, all delivered in one batch. Default 2 (about 5,000 events: small enough for V8's young generation). */
  readonly maxReadsPerWakeup?: number;
  /** Directory handles whose paths are kept. Default 65536. */
  readonly directoryCacheSize?: number;
  /** Use FAN_RENAME (Linux ≥ 5.17) when the kernel has it; false forces MOVED_FROM/MOVED_TO pairing. Default true. */
  readonly renameEvents?: boolean;
  /**
   * How often (ms) the mount table is re-read to watch filesystems mounted later (new datasets) and forget
   * unmounted ones; 0 turns it off. Not used with explicit `mountPoints`. Default 5000.
   */
  readonly mountCheckInterval?: number;
  /** The mount table to read. Default `/proc/self/mountinfo`. */
  readonly mountInfoPath?: string;
  /**
   * fd mode: ask the kernel (Linux ≥ 6.13) to report a failed open of an event's file per event
   * (FAN_REPORT_FD_ERROR) instead of failing the read. Either way it counts as one lost event and is rescanned.
   * Default true (falls back by itself on older kernels).
   */
  readonly reportFdErrors?: boolean;
  /**
   * Rescans asked for by the source (lost events, overflows, directories that saw events in fd mode) are coalesced
   * until none came for this long (ms), and held at most ten times as long. Default 1000.
   */
  readonly rescanDelay?: number;
  /**
   * fd mode: rescan the directory of every reported file (coalesced), so that deletes and renames there, which fd
   * mode never reports, are found within seconds. Default true.
   */
  readonly rescanEventDirectories?: boolean;
  /**
   * fd mode: rescan each fd-mode mount periodically, every 100 × the duration of its last scan, clamped to
   * `minFdRescanInterval` … `maxFdRescanInterval` (ms) and never longer than `PeriodicRescanInterval`. 0 turns it
   * off. Defaults 120000 and 3600000.
   */
  readonly minFdRescanInterval?: number;
  readonly maxFdRescanInterval?: number;
}

/** {@link FanotifySourceOptions} with defaults applied (parameters-derived fields stay optional). */
export interface ResolvedFanotifyOptions {
  readonly mountPoints: readonly string[] | undefined;
  readonly fileSystemTypes: readonly string[] | undefined;
  readonly preferredMountPoints: readonly string[] | undefined;
  readonly mode: "auto" | "fid" | "fd";
  readonly queue: "default" | "unlimited" | undefined;
  readonly ignorePaths: readonly string[];
  readonly ignoreOwnProcess: boolean;
  readonly readBufferSize: number;
  readonly maxReadsPerWakeup: number;
  readonly directoryCacheSize: number;
  readonly renameEvents: boolean;
  readonly mountCheckInterval: number;
  readonly mountInfoPath: string | undefined;
  readonly reportFdErrors: boolean;
  readonly rescanDelay: number;
  readonly rescanEventDirectories: boolean;
  readonly minFdRescanInterval: number;
  readonly maxFdRescanInterval: number;
}

const KEYS = [
  "mountPoints",
  "fileSystemTypes",
  "preferredMountPoints",
  "mode",
  "queue",
  "ignorePaths",
  "ignoreOwnProcess",
  "readBufferSize",
  "maxReadsPerWakeup",
  "directoryCacheSize",
  "renameEvents",
  "mountCheckInterval",
  "mountInfoPath",
  "reportFdErrors",
  "rescanDelay",
  "rescanEventDirectories",
  "minFdRescanInterval",
  "maxFdRescanInterval",
];

const DAY_MS = 86_400_000;

/**
 * Validates plugin options with core's {@link PluginOptions}: a bad value is a ConfigError naming
 * `FanotifySourcePlugin.options.<option>` (`<option>[i]` in a list) and what was expected.
 */
export function parseFanotifyOptions(input: unknown): ResolvedFanotifyOptions {
  const o = PluginOptions.read("FanotifySourcePlugin", input, KEYS);
  return {
    mountPoints: o.list("mountPoints", pathKind()),
    fileSystemTypes: o.list("fileSystemTypes", nonEmptyTextKind),
    preferredMountPoints: o.list("preferredMountPoints", pathKind()),
    mode: o.get("mode", enumKind(["auto", "fid", "fd"] as const), "auto"),
    queue: o.get("queue", enumKind(["default", "unlimited"] as const)),
    ignorePaths: o.list("ignorePaths", pathKind()) ?? [],
    ignoreOwnProcess: o.get("ignoreOwnProcess", booleanKind, true),
    readBufferSize: o.get("readBufferSize", integerKind(4096, 64 << 20, "bytes"), 256 * 1024),
    maxReadsPerWakeup: o.get("maxReadsPerWakeup", integerKind(1, 1024), 2),
    directoryCacheSize: o.get("directoryCacheSize", integerKind(16, 1 << 24), 65536),
    renameEvents: o.get("renameEvents", booleanKind, true),
    mountCheckInterval: o.get("mountCheckInterval", durationRangeKind(0, DAY_MS), 5000),
    mountInfoPath: o.get("mountInfoPath", pathKind()),
    reportFdErrors: o.get("reportFdErrors", booleanKind, true),
    rescanDelay: o.get("rescanDelay", durationRangeKind(0, 600_000), 1000),
    rescanEventDirectories: o.get("rescanEventDirectories", booleanKind, true),
    ...fdRescanBounds(o),
  };
}

function fdRescanBounds(o: PluginOptions): { minFdRescanInterval: number; maxFdRescanInterval: number } {
  const min = o.get("minFdRescanInterval", durationRangeKind(0, DAY_MS), 120_000);
  const max = o.get("maxFdRescanInterval", durationRangeKind(0, DAY_MS), 3_600_000);
  if (min > max) o.fail("minFdRescanInterval", `${min} is more than maxFdRescanInterval (${max})`);
  return { minFdRescanInterval: min, maxFdRescanInterval: max };
}
