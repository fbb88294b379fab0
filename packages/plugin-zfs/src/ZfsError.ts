import { BackupError } from "@rtbackup/core";

/**
 * Why a ZFS operation failed, as far as the plugin can tell from the command's exit and stderr.
 * - `missing-binary`: the `zfs` command does not exist at the configured path.
 * - `zfs-not-running`: ZFS itself is not available (zfs-fuse's daemon not answering, OpenZFS's module not loaded).
 * - `permission-denied`: the agent is not allowed to snapshot, clone, destroy or mount.
 * - `no-space`: the pool is full.
 * - `busy`: the dataset is in use (typically a clone being destroyed right after files were read from it).
 * - `not-found`: the dataset or snapshot does not exist.
 * - `exists`: a snapshot or clone of that name already exists.
 * - `not-mounted`: the dataset is not mounted where the batch expects it.
 * - `timeout`: the command did not finish in time and was killed.
 * - `unsupported`: the platform lacks the subcommand (for example `zfs diff` on zfs-fuse).
 * - `failed`: anything else (see `stderr`).
 */
export type ZfsFailureReason =
  | "missing-binary"
  | "zfs-not-running"
  | "permission-denied"
  | "no-space"
  | "busy"
  | "not-found"
  | "exists"
  | "not-mounted"
  | "timeout"
  | "unsupported"
  | "failed";

/** Details of a failed `zfs` command. */
export interface ZfsCommandDetails {
  /** The command line as run, shell-quoted for display. */
  readonly command: string;
  /** Its stderr (trimmed); empty when the command could not be started. */
  readonly stderr: string;
  /** Its exit status; undefined when it could not be started. */
  readonly exitCode: number | undefined;
}

/**
 * Every failure of the ZFS snapshot strategy: code `SNAPSHOT_FAILED`, so the engine retries the batch later and
 * never takes a failed snapshot for deleted files. Carries the command line and its stderr when a command failed.
 */
export class ZfsError extends BackupError {
  /** What went wrong, classified. */
  readonly reason: ZfsFailureReason;
  /** The command line (shell-quoted), when a command failed. */
  readonly command: string | undefined;
  /** The command's stderr, when a command failed. */
  readonly stderr: string | undefined;
  /** The command's exit status, when it ran. */
  readonly exitCode: number | undefined;

  constructor(reason: ZfsFailureReason, message: string, details?: ZfsCommandDetails, options?: { cause?: unknown }) {
    const parts = [message];
    if (details) {
      parts.push(`command: ${details.command}`);
      if (details.exitCode !== undefined) parts.push(`exit status ${details.exitCode}`);
      if (details.stderr) parts.push(`stderr: ${details.stderr}`);
    }
    super("SNAPSHOT_FAILED", parts.join("; "), options);
    this.reason = reason;
    this.command = details?.command;
    this.stderr = details?.stderr;
    this.exitCode = details?.exitCode;
  }
}
