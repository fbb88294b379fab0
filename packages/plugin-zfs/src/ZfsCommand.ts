import { isErrno, messageOf } from "@rtbackup/core";
import { ZfsError, type ZfsFailureReason } from "./ZfsError.js";
import type { ZfsExec } from "./spawnExec.js";

const PATTERNS: readonly (readonly [RegExp, ZfsFailureReason])[] = [
  [/zfs-fuse daemon is running|connect: (no such file or directory|connection refused)|modules are not loaded/i, "zfs-not-running"],
  [/permission denied|operation not permitted|must be run as root/i, "permission-denied"],
  [/out of space|no space left/i, "no-space"],
  [/is busy|device busy/i, "busy"],
  [/dataset already exists/i, "exists"],
  [/does not exist|no such pool|no such dataset|could not find any snapshots/i, "not-found"],
  [/unrecognized command/i, "unsupported"],
];

const HINTS: Record<ZfsFailureReason, string> = {
  "missing-binary": "the zfs command is missing (install OpenZFS's zfsutils-linux or zfs-fuse, or set ZFSBinaryPath)",
  "zfs-not-running": "ZFS is not running (zfs-fuse: start its daemon, e.g. `service zfs-fuse start`; OpenZFS: `modprobe zfs`)",
  "permission-denied": "permission denied (run the agent as root, or delegate snapshot,clone,destroy,mount,diff with `zfs allow`)",
  "no-space": "the pool is out of space (free space in the pool; snapshots and clones need a little)",
  busy: "the dataset is busy",
  "not-found": "the dataset or snapshot does not exist",
  exists: "a dataset or snapshot of that name already exists",
  "not-mounted": "the dataset is not mounted",
  timeout: "the command did not finish in time and was killed",
  unsupported: "this ZFS implementation does not have that subcommand",
  failed: "the command failed",
};

/** Classifies a failed `zfs` command from its stderr. */
export function classifyZfsFailure(stderr: string): ZfsFailureReason {
  for (const [pattern, reason] of PATTERNS) if (pattern.test(stderr)) return reason;
  return "failed";
}

/** Quotes one argument for display in an error message (never for a shell: commands run without one). */
function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs the `zfs` command through an injectable {@link ZfsExec} and turns every failure into a {@link ZfsError}
 * (code `SNAPSHOT_FAILED`) that names the command line, its exit status and stderr, and says what to fix.
 */
export class ZfsCommand {
  /** Path of the `zfs` command. */
  readonly binary: string;
  readonly #exec: ZfsExec;
  readonly #timeoutMs: number;

  constructor(binary: string, exec: ZfsExec, timeoutMs: number) {
    this.binary = binary;
    this.#exec = exec;
    this.#timeoutMs = timeoutMs;
  }

  /** The command line for `args`, quoted for display. */
  commandLine(args: readonly string[]): string {
    return [this.binary, ...args].map(quote).join(" ");
  }

  /** Runs `zfs <args>` and returns its stdout; throws a {@link ZfsError} on any failure. */
  async run(args: readonly string[]): Promise<string> {
    const command = this.commandLine(args);
    let result;
    try {
      result = await this.#exec(this.binary, args, { timeoutMs: this.#timeoutMs });
    } catch (err) {
      const reason: ZfsFailureReason = isErrno(err, "ENOENT") ? "missing-binary" : isErrno(err, "EACCES", "EPERM") ? "permission-denied" : "failed";
      throw new ZfsError(
        reason,
        `${HINTS[reason]}: ${messageOf(err)}`,
        { command, stderr: "", exitCode: undefined },
        {
          cause: err,
        },
      );
    }
    if (result.exitCode === 0 && !result.timedOut) return result.stdout;
    const stderr = result.stderr.trim();
    const reason = result.timedOut ? "timeout" : classifyZfsFailure(stderr);
    const what = args.slice(0, 1).join(" ") || "zfs";
    throw new ZfsError(reason, `zfs ${what} failed: ${HINTS[reason]}`, { command, stderr, exitCode: result.exitCode });
  }
}
