import type { IncomingMessage } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import type { EmulatorAuth } from "./EmulatorAuth.js";
import { ApiError, ClientAborted, drainBody, resetMidBody } from "./emulatorHttp.js";
import type { Fault } from "./FaultInjector.js";
import type { Route } from "./emulatorRoutes.js";

/** Bytes of the request body a `500-echo` answer repeats. */
const ECHOED_BODY_BYTES = 4096;

/**
 * Applies a fault to one call: resolves to false to carry on (`slow`), true when it dropped the call (`reset`), or
 * throws the error answer. An upload endpoint that answers with an error marks its upload URL dead, as B2 does.
 */
export async function injectFault(fault: Fault, route: Route, req: IncomingMessage, auth: EmulatorAuth, signal: AbortSignal): Promise<boolean> {
  if (fault.kind === "slow") {
    await sleep(fault.slowMs, undefined, { signal });
    return false;
  }
  if (fault.kind === "reset") {
    await resetMidBody(req);
    return true;
  }
  const token = req.headers.authorization;
  if (fault.kind === "401") {
    auth.expire(token);
    await drainBody(req);
    throw new ApiError(401, "expired_auth_token", "Authorization token has expired");
  }
  if (route.kind === "upload") {
    try {
      auth.uploadUrl(route.urlId, route.api === "b2_upload_file" ? "file" : "part", token).dead = true;
    } catch {
      // A bad token gets its own answer below anyway.
    }
  }
  if (fault.kind === "500-echo") throw await echoError(req);
  await drainBody(req);
  switch (fault.kind) {
    case "503":
      throw new ApiError(503, "service_unavailable", "c001_v0001234_t0042 is too busy");
    case "500":
      throw new ApiError(500, "internal_error", "internal error");
    case "408":
      throw new ApiError(408, "request_timeout", "the request took too long");
    case "429":
      throw new ApiError(429, "too_many_requests", "too many requests", { "Retry-After": String(fault.retryAfterSeconds) });
  }
}

/** A careless server's 500: its message repeats the request's Authorization header and the start of its body. */
async function echoError(req: IncomingMessage): Promise<ApiError> {
  let body = "";
  try {
    const parts: Buffer[] = [];
    let total = 0;
    for await (const chunk of req) {
      if (total < ECHOED_BODY_BYTES) parts.push(chunk as Buffer);
      total += (chunk as Buffer).length;
    }
    body = Buffer.concat(parts).subarray(0, ECHOED_BODY_BYTES).toString("utf8");
  } catch {
    throw new ClientAborted("client aborted the request body");
  }
  const authorization = req.headers.authorization ?? "none";
  const message = `internal error handling ${req.method} ${req.url ?? "/"} (Authorization: ${authorization}; body: ${body})`;
  return new ApiError(500, "internal_error", message);
}
