import { ErrorCodes } from "@rtbackup/core";

/**
 * Exit status when the remote index is damaged (a batch missing or corrupt, or a gap in sequence numbers):
 * restarting cannot help, so the systemd unit lists it in RestartPreventExitStatus (docs/service.md).
 */
export const EXIT_INDEX_DAMAGED = ErrorCodes.INDEX_DAMAGED.exit;

/** Exit status of `rtb check` when it found damage (after `--repair`: damage it could not repair). */
export const EXIT_CHECK_DAMAGE = 5;

/**
 * Exit status of a command line that cannot run as written (an unknown option or command, a missing value or
 * argument); a configuration error exits the same way (`ErrorCodes.CONFIG_INVALID`): nothing was started, fix
 * the line or the file.
 */
export const EXIT_USAGE = ErrorCodes.CONFIG_INVALID.exit;
