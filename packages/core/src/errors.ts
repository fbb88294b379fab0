import { redactSecrets } from "./secrets/SecretRegistry.js";

/**
 * One catalogue of error codes (after fastify's `lib/errors.js`). Every error the project throws on purpose is a
 * {@link BackupError} carrying one of these codes, so callers and tests match on `code`, never on message text.
 */
export const ErrorCodes = {
  CONFIG_INVALID: "Invalid configuration",
  CONFIG_NOT_FOUND: "Configuration file not found",
  PLUGIN_FAILED: "A plugin failed inside a hook",
  PLUGIN_MISSING: "No plugin supplied a required stage",
  STORAGE_FAILED: "A storage operation failed",
  STORAGE_NOT_FOUND: "Object not found in storage",
  INTEGRITY: "Stored data failed verification",
  REPOSITORY_INVALID: "Not a valid repository",
  REPOSITORY_VERSION: "Unsupported repository format version",
  RESTORE_UNSAFE_PATH: "Index entry would escape the restore target",
  RESTORE_NOT_FOUND: "Path not found in the backup",
  STATE_CACHE: "Local state cache failure",
  NATIVE: "A system call failed",
  LOCKED: "Another instance holds the lock",
  SNAPSHOT_FAILED: "Snapshot could not be created",
  SOURCE_FAILED: "A change source failed",
  ABORTED: "Operation aborted",
  INDEX_DAMAGED: "The remote index cannot be read completely",
} as const;

/** A code from {@link ErrorCodes}. */
export type ErrorCode = keyof typeof ErrorCodes;

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
