import { PluginOptions, durationKind, enumKind, functionKind, pathKind, patternKind } from "@rtbackup/core";
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
  /**
   * When ZFS does not answer at start-up (zfs-fuse's daemon down, OpenZFS's module not loaded): `fail` (default)
   * stops the start; `read-live` logs a warning and reads files on ZFS live, without snapshots, until the next start
   * (what the default preset asks for, since it turns ZFS on by itself when a root lies on a ZFS mount).
   */
  whenZfsDown?: ZfsDownMode;
}

/** What start-up does when ZFS does not answer. */
export type ZfsDownMode = "fail" | "read-live";

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
  readonly whenZfsDown: ZfsDownMode;
}

const KNOWN = [
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
  "whenZfsDown",
];

/** Letters, digits and `_ . : -` (what ZFS allows in names), not ending in `-`, at most 64 characters. */
const PREFIX = /^[A-Za-z0-9](?:[A-Za-z0-9_.:-]{0,62}[A-Za-z0-9_.:])?$/;
const prefixKind = patternKind(PREFIX, "1-64 letters, digits, '_', '.', ':' or '-' (not starting or ending with '-')");
const hostTagKind = patternKind(/^[0-9a-f]{8}$/, "8 lowercase hex digits");

/**
 * Validates plugin options with core's {@link PluginOptions}: every bad value throws a `ConfigError` naming
 * `ZfsSnapshotPlugin.options.<option>` and what was expected. Durations are milliseconds or xs:duration strings.
 */
export function parseZfsSnapshotOptions(options: unknown): ResolvedZfsSnapshotOptions {
  const o = PluginOptions.read("ZfsSnapshotPlugin", options, KNOWN);
  return {
    zfsBinaryPath: o.get("zfsBinaryPath", pathKind()),
    snapshotPrefix: o.get("snapshotPrefix", prefixKind, "rtb"),
    cloneDirectory: o.get("cloneDirectory", pathKind(), "/run/rtbackup/zfs-clones"),
    access: o.get("access", enumKind<ZfsAccessMode>(["auto", "snapdir", "clone"]), "auto"),
    busyRetryTime: o.get("busyRetryTime", durationKind(false), 5000),
    commandTimeout: o.get("commandTimeout", durationKind(true), 120_000),
    exec: o.get("exec", functionKind) as ZfsExec | undefined,
    readMountInfo: o.get("readMountInfo", functionKind) as (() => Promise<string>) | undefined,
    pathExists: o.get("pathExists", functionKind) as ((path: string) => Promise<boolean>) | undefined,
    ownerAlive: o.get("ownerAlive", functionKind) as ((owner: SnapshotOwner) => boolean) | undefined,
    hostTag: o.get("hostTag", hostTagKind),
    whenZfsDown: o.get("whenZfsDown", enumKind<ZfsDownMode>(["fail", "read-live"]), "fail"),
  };
}
