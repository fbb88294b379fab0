/**
 * Exit status when the remote index is damaged (a batch missing or corrupt, or a gap in sequence numbers):
 * restarting cannot help, so the systemd unit lists it in RestartPreventExitStatus (docs/service.md).
 */
export const EXIT_INDEX_DAMAGED = 4;

/** Exit status of `rtb check` when it found damage (after `--repair`: damage it could not repair). */
export const EXIT_CHECK_DAMAGE = 5;
