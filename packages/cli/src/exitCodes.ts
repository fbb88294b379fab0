/**
 * Exit status when the remote index is damaged (a batch missing or corrupt, or a gap in sequence numbers):
 * restarting cannot help, so the systemd unit lists it in RestartPreventExitStatus (docs/service.md).
 */
export const EXIT_INDEX_DAMAGED = 4;

/** Exit status of `rtb check` when it found damage (after `--repair`: damage it could not repair). */
export const EXIT_CHECK_DAMAGE = 5;

/**
 * Exit status of a command line that cannot run as written (an unknown option or command, a missing value or
 * argument) and of a configuration error: nothing was started, fix the line or the file.
 */
export const EXIT_USAGE = 2;
