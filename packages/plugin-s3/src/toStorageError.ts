import { StorageError, type SecretRegistry } from "@rtbackup/core";
import { httpStatusOf, isTransientError } from "./isTransientError.js";

const NOT_FOUND_NAMES = new Set(["NoSuchKey", "NotFound", "NoSuchVersion"]);

/**
 * A sanitized copy of an SDK or network error, kept as a {@link StorageError}'s `cause`: its name, redacted
 * message, HTTP status, request id and errno code, and nothing else. The SDK's own exceptions carry the whole
 * error document the server returned, which for authentication failures includes the access key id (and on some
 * servers the string to sign), so they never leave this package.
 */
export class S3CauseError extends Error {
  readonly httpStatusCode: number | undefined;
  readonly requestId: string | undefined;
  readonly errno: string | undefined;
  constructor(name: string, message: string, httpStatusCode: number | undefined, requestId: string | undefined, errno: string | undefined) {
    super(message);
    this.name = name;
    this.httpStatusCode = httpStatusCode;
    this.requestId = requestId;
    this.errno = errno;
  }
}

/** The StorageError inside `err`'s cause chain, if our own code threw one (a body of the wrong length, ...). */
function ownStorageError(err: unknown): StorageError | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 6 && typeof e === "object" && e !== null; depth++) {
    if (e instanceof StorageError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Maps anything an S3 call threw to core's {@link StorageError}: NoSuchKey/404 → `STORAGE_NOT_FOUND`, everything
 * else `STORAGE_FAILED` with `transient` from {@link isTransientError}. Messages and causes pass through the
 * redactor, so no credential reaches the result.
 */
export function toStorageError(operation: string, key: string | undefined, err: unknown, redactor: SecretRegistry): StorageError {
  const own = ownStorageError(err);
  if (own) return own;
  const e = (typeof err === "object" && err !== null ? err : {}) as {
    name?: unknown;
    message?: unknown;
    code?: unknown;
    $metadata?: { requestId?: unknown; extendedRequestId?: unknown };
  };
  const name = typeof e.name === "string" ? e.name : "Error";
  const status = httpStatusOf(err);
  const rawMessage = typeof e.message === "string" && e.message !== "" ? e.message : String(err);
  const message = redactor.redact(rawMessage);
  const requestId = typeof e.$metadata?.requestId === "string" ? e.$metadata.requestId : undefined;
  const errno = typeof e.code === "string" ? e.code : undefined;
  const cause = new S3CauseError(name, message, status, requestId, errno);
  const target = key === undefined ? operation : `${operation} ${key}`;
  const detail = [name !== "Error" && !message.startsWith(name) ? name : undefined, status ? `HTTP ${status}` : undefined, errno]
    .filter((x) => x !== undefined)
    .join(", ");
  const text = `${target} failed: ${message}${detail ? ` (${detail})` : ""}`;
  const options = key === undefined ? { cause } : { cause, key };
  if (NOT_FOUND_NAMES.has(name) || (status === 404 && name !== "NoSuchBucket")) {
    return new StorageError("STORAGE_NOT_FOUND", text, { ...options, transient: false });
  }
  return new StorageError("STORAGE_FAILED", text, { ...options, transient: isTransientError(err) });
}
