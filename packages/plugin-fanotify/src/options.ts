import { ConfigError } from "@rtbackup/core";

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

const KEYS = new Set([
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
]);

/** Validates plugin options; a bad value is a ConfigError naming `<where>.<option>` and what was expected. */
export function parseFanotifyOptions(input: unknown, where = "FanotifySourcePlugin.options"): ResolvedFanotifyOptions {
  if (input === undefined || input === null) input = {};
  if (typeof input !== "object" || Array.isArray(input)) throw new ConfigError(where, "expected an object");
  const o = input as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KEYS.has(key)) throw new ConfigError(`${where}.${key}`, `unknown option (known: ${[...KEYS].join(", ")})`);
  }
  return {
    mountPoints: absolutePaths(o.mountPoints, `${where}.mountPoints`),
    fileSystemTypes: strings(o.fileSystemTypes, `${where}.fileSystemTypes`),
    preferredMountPoints: absolutePaths(o.preferredMountPoints, `${where}.preferredMountPoints`),
    mode: oneOf(o.mode, ["auto", "fid", "fd"] as const, `${where}.mode`) ?? "auto",
    queue: oneOf(o.queue, ["default", "unlimited"] as const, `${where}.queue`),
    ignorePaths: absolutePaths(o.ignorePaths, `${where}.ignorePaths`) ?? [],
    ignoreOwnProcess: bool(o.ignoreOwnProcess, `${where}.ignoreOwnProcess`) ?? true,
    readBufferSize: int(o.readBufferSize, `${where}.readBufferSize`, 4096, 64 << 20) ?? 256 * 1024,
    maxReadsPerWakeup: int(o.maxReadsPerWakeup, `${where}.maxReadsPerWakeup`, 1, 1024) ?? 2,
    directoryCacheSize: int(o.directoryCacheSize, `${where}.directoryCacheSize`, 16, 1 << 24) ?? 65536,
    renameEvents: bool(o.renameEvents, `${where}.renameEvents`) ?? true,
    mountCheckInterval: int(o.mountCheckInterval, `${where}.mountCheckInterval`, 0, 86_400_000) ?? 5000,
    mountInfoPath: absolutePaths(o.mountInfoPath === undefined ? undefined : [o.mountInfoPath], `${where}.mountInfoPath`)?.[0],
    reportFdErrors: bool(o.reportFdErrors, `${where}.reportFdErrors`) ?? true,
    rescanDelay: int(o.rescanDelay, `${where}.rescanDelay`, 0, 600_000) ?? 1000,
    rescanEventDirectories: bool(o.rescanEventDirectories, `${where}.rescanEventDirectories`) ?? true,
    ...fdRescanBounds(o, where),
  };
}

function fdRescanBounds(o: Record<string, unknown>, where: string): { minFdRescanInterval: number; maxFdRescanInterval: number } {
  const min = int(o.minFdRescanInterval, `${where}.minFdRescanInterval`, 0, 86_400_000) ?? 120_000;
  const max = int(o.maxFdRescanInterval, `${where}.maxFdRescanInterval`, 0, 86_400_000) ?? 3_600_000;
  if (min > max) {
    throw new ConfigError(`${where}.minFdRescanInterval`, `${min} is more than maxFdRescanInterval (${max})`);
  }
  return { minFdRescanInterval: min, maxFdRescanInterval: max };
}

function strings(v: unknown, where: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string" || s === "")) {
    throw new ConfigError(where, "expected an array of non-empty strings");
  }
  return [...(v as string[])];
}

function absolutePaths(v: unknown, where: string): string[] | undefined {
  const list = strings(v, where);
  list?.forEach((p, i) => {
    if (!p.startsWith("/")) throw new ConfigError(`${where}[${i}]`, `expected an absolute path, got "${p}"`);
  });
  return list?.map((p) => (p.length > 1 ? p.replace(/\/+$/, "") : p));
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[], where: string): T | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
    throw new ConfigError(where, `expected one of ${allowed.map((a) => `"${a}"`).join(", ")}`);
  }
  return v as T;
}

function bool(v: unknown, where: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") throw new ConfigError(where, "expected true or false");
  return v;
}

function int(v: unknown, where: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(where, `expected an integer from ${min} to ${max}`);
  }
  return v;
}
