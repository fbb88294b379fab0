import { BackupError } from "@rtbackup/core";

/**
 * A command line that cannot be run as written: an unknown command or option (a typo), an option that needs a value
 * given without one, a missing or extra argument. `rtb` prints the message and exits 2 before it loads any
 * configuration or opens any store, so a typo never falls back to a default.
 */
export class UsageError extends BackupError {
  /** The command the line was for (`list`, `config check`), when it was recognised. */
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super("CONFIG_INVALID", message);
    this.command = command;
  }
}
