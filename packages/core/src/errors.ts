import { redactSecrets } from "./secrets/SecretRegistry.js";

/** What one error code means to whoever meets it: a one-line title and the exit status of `rtb`. */
export interface ErrorKind {
  /** What went wrong, in a few words (docs/errors.md, `--json` output). */
  readonly title: string;
  /** The exit status `rtb` ends with when this error stops a command. */
  readonly exit: number;
}

/**
 * The one catalogue of error codes (after fastify's `lib/errors.js`). Every error the project throws on purpose is a
 * {@link BackupError} carrying one of these codes, with one meaning per code, so callers and tests match on `code`,
 * never on message text. The message itself is written where the error is thrown, because it names the object, path,
 * element or value at fault; the catalogue says what the code means and how `rtb` exits on it. Whether the pipeline
 * retries is decided per error (`StorageError#transient`): a 503 and a refused key are both STORAGE_FAILED.
 * docs/errors.md lists the same table (a test keeps the two equal).
 */
export const ErrorCodes = {
  CONFIG_INVALID: { title: "The configuration is invalid", exit: 2 },
  CONFIG_NOT_FOUND: { title: "The configuration file was not found", exit: 1 },
  PLUGIN_FAILED: { title: "A plugin failed inside a hook", exit: 1 },
  PLUGIN_MISSING: { title: "No plugin supplied a required stage", exit: 1 },
  STORAGE_FAILED: { title: "A storage operation failed", exit: 1 },
  STORAGE_NOT_FOUND: { title: "An object is missing from the store", exit: 1 },
  INTEGRITY: { title: "Stored data failed verification", exit: 1 },
  REPOSITORY_INVALID: { title: "Not a valid repository", exit: 1 },
  REPOSITORY_VERSION: { title: "Unsupported repository format version", exit: 1 },
  RESTORE_UNSAFE_PATH: { title: "An index entry would escape the restore target", exit: 1 },
  RESTORE_NOT_FOUND: { title: "The path is not in the backup", exit: 1 },
  STATE_CACHE: { title: "The local state cache failed", exit: 1 },
  NATIVE: { title: "A system call failed", exit: 1 },
  LOCKED: { title: "Another process holds the lock", exit: 1 },
  SNAPSHOT_FAILED: { title: "A snapshot could not be created or read", exit: 1 },
  SOURCE_FAILED: { title: "A change source failed", exit: 1 },
  ENGINE_NOT_STARTED: { title: "The engine is not started", exit: 1 },
  FILE_CHANGED: { title: "A file changed while it was being read", exit: 1 },
  OUTPUT_CLOSED: { title: "Standard output was closed", exit: 1 },
  INDEX_DAMAGED: { title: "The remote index cannot be read completely", exit: 4 },
  KEY_MISSING: { title: "The repository is encrypted and no key that reads it was given", exit: 6 },
  KEY_REJECTED: { title: "The key or passphrase given does not open the repository", exit: 6 },
  STORAGE_DENIED: { title: "The store's credentials do not allow what was asked (a prune with a key that cannot delete)", exit: 1 },
} as const satisfies Record<string, ErrorKind>;

/** A code from {@link ErrorCodes}. */
export type ErrorCode = keyof typeof ErrorCodes;

/** The exit status for anything thrown: the catalogue's for a {@link BackupError}, 1 for anything else. */
export function exitStatusOf(err: unknown): number {
  return err instanceof BackupError ? ErrorCodes[err.code].exit : 1;
}

/** Base of every error this project throws on purpose. Known secrets are redacted from its message. */
export class BackupError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(redactSecrets(message), options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** A bad configuration value. `where` names the file, element or key (and line when known). */
export class ConfigError extends BackupError {
  readonly where: string;
  constructor(where: string, message: string, options?: { cause?: unknown }) {
    super("CONFIG_INVALID", `${where}: ${message}`, options);
    this.where = where;
  }
}

/** An error thrown by a plugin's tap, wrapped with the plugin's and the hook's name. */
export class PluginError extends BackupError {
  readonly plugin: string;
  readonly hook: string;
  constructor(plugin: string, hook: string, cause: unknown) {
    super("PLUGIN_FAILED", `${plugin} failed in hook "${hook}": ${messageOf(cause)}`, { cause });
    this.plugin = plugin;
    this.hook = hook;
  }
}

/** A storage backend failure. `transient` tells the pipeline whether a retry may succeed. */
export class StorageError extends BackupError {
  readonly key: string | undefined;
  readonly transient: boolean;
  constructor(code: "STORAGE_FAILED" | "STORAGE_NOT_FOUND" | "INTEGRITY", message: string, options?: { cause?: unknown; key?: string; transient?: boolean }) {
    super(code, message, options);
    this.key = options?.key;
    this.transient = options?.transient ?? code === "STORAGE_FAILED";
  }
}

/**
 * The remote index is damaged: a batch is truncated, corrupt or missing, or there is a gap in the sequence numbers.
 * The agent never commits on top of such an index; `key` names the object when there is one.
 */
export class IndexDamagedError extends BackupError {
  readonly key: string | undefined;
  constructor(message: string, options?: { cause?: unknown; key?: string }) {
    super("INDEX_DAMAGED", message, options);
    this.key = options?.key;
  }
}

/** A repository's creation found one there already (or lost the race to create it to another process). */
export class RepositoryExistsError extends BackupError {
  constructor(where: string) {
    super("REPOSITORY_INVALID", `there is a repository at ${where} already`);
  }
}

/** A failed system call, with its name and errno. */
export class NativeError extends BackupError {
  readonly syscall: string;
  readonly errno: number;
  constructor(syscall: string, errno: number, message: string) {
    super("NATIVE", `${syscall}: ${message} (errno ${errno})`);
    this.syscall = syscall;
    this.errno = errno;
  }
}

/** The message of anything thrown, with known secrets redacted. */
export function messageOf(err: unknown): string {
  return redactSecrets(err instanceof Error ? err.message : String(err));
}

/** True for Node system errors with the given code (`ENOENT`, ...). */
export function isErrno(err: unknown, ...codes: string[]): boolean {
  return typeof err === "object" && err !== null && codes.includes((err as NodeJS.ErrnoException).code ?? "");
}
