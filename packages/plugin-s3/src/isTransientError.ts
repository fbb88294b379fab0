const TRANSIENT_NAMES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "BandwidthLimitExceeded",
  "RequestThrottled",
  "RequestThrottledException",
  "PriorRequestNotComplete",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
  "InternalError",
  "ServiceUnavailable",
  "RequestTimeTooSkewed",
  "ExpiredToken",
  "OperationAborted",
]);

const TRANSIENT_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ERR_STREAM_PREMATURE_CLOSE",
  "ERR_HTTP2_STREAM_ERROR",
  "UND_ERR_SOCKET",
]);

interface SdkLikeError {
  name?: unknown;
  code?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  cause?: unknown;
}

/** The HTTP status of an AWS SDK error (or of a sanitized `S3CauseError`), if it carries one. */
export function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as SdkLikeError & { httpStatusCode?: unknown };
  const status = e.$metadata?.httpStatusCode ?? e.httpStatusCode;
  return typeof status === "number" ? status : undefined;
}

/**
 * Whether retrying the operation that threw `err` may succeed: throttling (429, SlowDown), server errors
 * (5xx except 501/505), request timeouts (408), clock skew and expired tokens (the SDK corrects and refreshes),
 * and network failures (resets, refused or timed-out connections, DNS hiccups). Client errors (other 4xx) are
 * permanent. An error without an HTTP status that is not recognised as a network error is treated as transient
 * unless it is a programming error (TypeError, RangeError, ...), because truncated or garbled responses surface
 * that way.
 */
export function isTransientError(err: unknown, depth = 0): boolean {
  if (typeof err !== "object" || err === null) return false;
  const e = err as SdkLikeError;
  const name = typeof e.name === "string" ? e.name : "";
  if (name === "AbortError") return false;
  if (e.$retryable !== undefined) return true;
  if (TRANSIENT_NAMES.has(name)) return true;
  if (typeof e.code === "string" && TRANSIENT_CODES.has(e.code)) return true;
  const status = httpStatusOf(err);
  if (status !== undefined) {
    if (status === 408 || status === 429) return true;
    if (status >= 500) return status !== 501 && status !== 505;
    return false;
  }
  if (e.cause !== undefined && depth < 5 && isTransientError(e.cause, depth + 1)) return true;
  return !(err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError || err instanceof ReferenceError);
}
