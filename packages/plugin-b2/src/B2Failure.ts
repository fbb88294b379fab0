import type { Readable } from "node:stream";
import { redactSecrets } from "@rtbackup/core";

/**
 * What went wrong with a B2 call, in the terms of B2's retry rules:
 * - `auth`: 401 expired_auth_token / bad_auth_token — authorize again (or, for uploads, get a new upload URL);
 * - `throttled`: 429 — wait `Retry-After`;
 * - `server`: 500/503 and other 5xx — back off (uploads: new upload URL);
 * - `timeout`: 408, or no answer in time — back off (uploads: new upload URL);
 * - `network`: the connection failed or broke — back off (uploads: new upload URL);
 * - `unauthorized`: 401 unauthorized — the key lacks a capability; fatal;
 * - `cap`: 403 — a cap is exceeded or access denied; fatal until the user acts;
 * - `notFound`: 404;
 * - `client`: any other 4xx — the request is wrong; fatal;
 * - `aborted`: the backend was closed.
 */
export type FailureKind = "auth" | "throttled" | "server" | "timeout" | "network" | "unauthorized" | "cap" | "notFound" | "client" | "aborted";

/** The B2 code given to an error answer that had no JSON body (e.g. the answer to a HEAD). */
export function bodylessCode(status: number): string {
  return `http_${status}`;
}

/** Kinds worth retrying (after re-authorizing, waiting or backing off). */
export const RETRYABLE: ReadonlySet<FailureKind> = new Set(["auth", "throttled", "server", "timeout", "network"]);

/**
 * A failed B2 call reduced to safe facts: the API, HTTP status, B2 error code and message, and Retry-After. Built
 * instead of passing on the HTTP client's error, whose request config carries the Authorization header (HTTP Basic
 * with the application key, for authorize).
 */
export class B2Failure extends Error {
  readonly api: string;
  readonly status: number | undefined;
  readonly b2Code: string;
  readonly kind: FailureKind;
  readonly retryAfterMs: number | undefined;

  constructor(api: string, kind: FailureKind, status: number | undefined, b2Code: string, detail: string, retryAfterMs?: number) {
    // `detail` is the server's own text, which may echo a credential.
    super(redactSecrets(`${api}: ${status === undefined ? b2Code : `HTTP ${status} ${b2Code}`}${detail ? `: ${detail}` : ""}`));
    this.name = "B2Failure";
    this.api = api;
    this.kind = kind;
    this.status = status;
    this.b2Code = b2Code;
    this.retryAfterMs = retryAfterMs;
  }
}

interface AxiosLikeError {
  isAxiosError?: boolean;
  code?: string;
  message?: string;
  response?: { status: number; headers?: Record<string, unknown>; data?: unknown };
}

/** Turns whatever a call threw into a {@link B2Failure}. Reads (a bounded part of) a streamed error body. */
export async function toB2Failure(api: string, err: unknown): Promise<B2Failure> {
  if (err instanceof B2Failure) return err;
  const e = (err ?? {}) as AxiosLikeError;
  if (!e.isAxiosError) {
    const message = err instanceof Error ? err.message : String(err);
    return new B2Failure(api, "client", undefined, "client_error", message);
  }
  const response = e.response;
  if (!response) {
    if (e.code === "ERR_CANCELED") return new B2Failure(api, "aborted", undefined, "aborted", "the backend was closed");
    if (e.code === "ECONNABORTED" || e.code === "ETIMEDOUT") {
      return new B2Failure(api, "timeout", undefined, "timeout", "no answer in time");
    }
    return new B2Failure(api, "network", undefined, e.code ?? "network_error", e.message ?? "connection failed");
  }
  const status = response.status;
  const body = await errorBody(response.data);
  const code = body.code ?? bodylessCode(status);
  const retryAfterMs = parseRetryAfter(response.headers?.["retry-after"]);
  let kind: FailureKind;
  // A 401 without a body (the answer to a HEAD) cannot say which 401 it is: treat it as an expired token, and let
  // the caller call it fatal if it comes back after a fresh authorization.
  if (status === 401) kind = code === "expired_auth_token" || code === "bad_auth_token" || body.code === undefined ? "auth" : "unauthorized";
  else if (status === 429) kind = "throttled";
  else if (status === 408) kind = "timeout";
  else if (status >= 500) kind = "server";
  else if (status === 403) kind = "cap";
  else if (status === 404) kind = "notFound";
  else kind = "client";
  return new B2Failure(api, kind, status, code, body.message ?? "", retryAfterMs);
}

async function errorBody(data: unknown): Promise<{ code?: string; message?: string }> {
  let text: string | undefined;
  if (data && typeof data === "object" && typeof (data as Readable).pipe === "function") {
    text = await readSome(data as Readable, 64 * 1024);
  } else if (Buffer.isBuffer(data) || data instanceof ArrayBuffer) {
    text = Buffer.from(data as Buffer).toString("utf8");
  } else if (typeof data === "string") {
    text = data;
  } else if (data && typeof data === "object") {
    return pick(data as Record<string, unknown>);
  }
  if (!text) return {};
  try {
    return pick(JSON.parse(text) as Record<string, unknown>);
  } catch {
    return {};
  }
}

function pick(o: Record<string, unknown>): { code?: string; message?: string } {
  const out: { code?: string; message?: string } = {};
  if (typeof o["code"] === "string") out.code = o["code"];
  if (typeof o["message"] === "string") out.message = o["message"];
  return out;
}

async function readSome(stream: Readable, limit: number): Promise<string> {
  const parts: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      parts.push(b);
      total += b.length;
      if (total >= limit) break;
    }
  } catch {
    // A broken error body still leaves the status to go by.
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts).toString("utf8");
}

/** `Retry-After` in milliseconds: seconds, or an HTTP date. */
export function parseRetryAfter(value: unknown): number | undefined {
  if (typeof value !== "string" || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
