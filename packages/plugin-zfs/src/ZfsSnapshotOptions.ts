import { isAbsolute } from "node:path";
import { ConfigError } from "@rtbackup/core";
import type { SnapshotOwner } from "./SnapshotNaming.js";
import type { ZfsExec } from "./spawnExec.js";

/** How snapshot contents are read. */
export type ZfsAccessMode = "auto" | "snapdir" | "clone";

/** Options of {@link ZfsSnapshotPlugin}. All are optional. */
export interface ZfsSnapshotOptions {
  /** Path of the `zfs` command. Default: the engine's `zfsBinaryPath` parameter (`ZFSBinaryPath`, `/usr/sbin/zfs`). */
  zfsBinaryPath?: string;
  /** Prefix of our snapshot and clone names; start-up cleanup only ever touches names with it. Default `rtb`. */
  snapshotPrefix?: string;
  /** Private directory (mode 0700) where read-only clones are mounted. Default `/run/rtbackup/zfs-clones`. */
  cloneDirectory?: string;
  /**
   * `auto` (default): read through `<mountpoint>/.zfs/snapshot/<name>` where that directory exists (OpenZFS),
   * else through a read-only clone (zfs-fuse). `snapdir` or `clone` force one way.
   */
  access?: ZfsAccessMode;
  /** How long releasing keeps retrying "dataset is busy" before deferring to the background (ms). Default 5000. */
  busyRetryTime?: number;
  /** A `zfs` command running longer than this is killed and fails (ms). Default 120000. */
  commandTimeout?: number;
  /** Runs commands. Default: spawn without a shell. Tests inject a fake. */
  exec?: ZfsExec;
  /** Returns the mount table text (`/proc/self/mountinfo` format). Default reads it. Tests inject fixtures. */
  readMountInfo?: () => Promise<string>;
  /** Whether a path exists (used for `<mountpoint>/.zfs/snapshot`). Default `fs.access`. Tests inject. */
  pathExists?: (path: string) => Promise<boolean>;
  /** Whether the agent that made a snapshot may still run (stale-snapshot cleanup). Default: `/proc`. */
  ownerAlive?: (owner: SnapshotOwner) => boolean;
  /** Host tag in names (8 hex digits). Default: from SHA-256 of the host name. */
  hostTag?: string;
}

/** {@link ZfsSnapshotOptions} after validation, defaults filled in (except `zfsBinaryPath`, known at apply). */
export interface ResolvedZfsSnapshotOptions {
  readonly zfsBinaryPath: string | undefined;
  readonly snapshotPrefix: string;
  readonly cloneDirectory: string;
  readonly access: ZfsAccessMode;
  readonly busyRetryTime: number;
  readonly commandTimeout: number;
  readonly exec: ZfsExec | undefined;
  readonly readMountInfo: (() => Promise<string>) | undefined;
  readonly pathExists: ((path: string) => Promise<boolean>) | undefined;
  readonly ownerAlive: ((owner: SnapshotOwner) => boolean) | undefined;
  readonly hostTag: string | undefined;
}

const KNOWN = new Set([
  "zfsBinaryPath",
  "snapshotPrefix",
  "cloneDirectory",
  "access",
  "busyRetryTime",
  "commandTimeout",
  "exec",
  "readMountInfo",
  "pathExists",
  "ownerAlive",
  "hostTag",
]);

/** Letters, digits and `_ . : -` (what ZFS allows in names), not ending in `-`, at most 64 characters. */
const PREFIX = /^[A-Za-z0-9](?:[A-Za-z0-9_.:-]{0,62}[A-Za-z0-9_.:])?$/;

/**
 * Validates plugin options. `where` names them in errors (e.g. `plugins[1].options`); every bad value throws a
 * {@link ConfigError} naming the exact option and what was expected.
 */
export function parseZfsSnapshotOptions(options: unknown, where = "ZfsSnapshotPlugin options"): ResolvedZfsSnapshotOptions {
  if (options === undefined || options === null) options = {};
  if (typeof options !== "object" || Array.isArray(options)) throw new ConfigError(where, "expected an object");
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key)) throw new ConfigError(`${where}.${key}`, `unknown option (known: ${[...KNOWN].join(", ")})`);
  }
  const path = (key: string): string | undefined => {
    const v = o[key];
    if (v === undefined) return undefined;
    if (typeof v !== "string" || !isAbsolute(v)) throw new ConfigError(`${where}.${key}`, "expected an absolute path");
    return v;
  };
  const duration = (key: string, fallback: number): number => {
    const v = o[key];
    if (v === undefined) return fallback;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new ConfigError(`${where}.${key}`, "expected a number of milliseconds >= 0");
    }
    return v;
  };
  const fn = <T>(key: string): T | undefined => {
    const v = o[key];
    if (v === undefined) return undefined;
    if (typeof v !== "function") throw new ConfigError(`${where}.${key}`, "expected a function");
    return v as T;
  };
  const prefix = o.snapshotPrefix ?? "rtb";
  if (typeof prefix !== "string" || !PREFIX.test(prefix)) {
    throw new ConfigError(`${where}.snapshotPrefix`, "expected 1-64 letters, digits, '_', '.', ':' or '-' (not starting or ending with '-')");
  }
  const access = o.access ?? "auto";
  if (access !== "auto" && access !== "snapdir" && access !== "clone") {
    throw new ConfigError(`${where}.access`, 'expected "auto", "snapdir" or "clone"');
  }
  const host = o.hostTag;
  if (host !== undefined && (typeof host !== "string" || !/^[0-9a-f]{8}$/.test(host))) {
    throw new ConfigError(`${where}.hostTag`, "expected 8 lowercase hex digits");
  }
  const commandTimeout = duration("commandTimeout", 120_000);
  if (commandTimeout === 0) throw new ConfigError(`${where}.commandTimeout`, "expected a number of milliseconds > 0");
  return {
    zfsBinaryPath: path("zfsBinaryPath"),
    snapshotPrefix: prefix,
    cloneDirectory: path("cloneDirectory") ?? "/run/rtbackup/zfs-clones",
    access,
    busyRetryTime: duration("busyRetryTime", 5000),
    commandTimeout,
    exec: fn<ZfsExec>("exec"),
    readMountInfo: fn<() => Promise<string>>("readMountInfo"),
    pathExists: fn<(path: string) => Promise<boolean>>("pathExists"),
    ownerAlive: fn<(owner: SnapshotOwner) => boolean>("ownerAlive"),
    hostTag: host,
  };
}
