import { posix } from "node:path";
import type { Runtime } from "../Runtime.js";
import { isUnder } from "../mounts/mountPaths.js";
import { BridgeRequestError } from "./BridgeRequestError.js";
import { MAX_CHECK_PATHS, type BridgeNotificationBody, type BridgeRequest, type BridgeScanStatus } from "./protocol.js";

/** What a request needs from the server besides the runtime. */
export interface BridgeRequestContext {
  readonly runtime: Runtime;
  /** Scans started since the daemon started. */
  scanNumber(): number;
  /** Sequence number of the last notification posted (0 before the first). */
  lastSeq(): number;
  /** Posts a notification to subscribers. */
  notify(body: BridgeNotificationBody): void;
  /** Resolves at the next scan start or end, or after `ms`. */
  nextScanEvent(ms: number): Promise<void>;
}

const MAX_WAIT_MS = 30_000;
const MAX_PATH_BYTES = 4096;

function optionalBoolean(req: Record<string, unknown>, key: string): boolean | undefined {
  const value = req[key];
  if (value === undefined) return undefined;
  if (typeof value !== "boolean") throw new BridgeRequestError("BAD_REQUEST", `${key}: expected true or false`);
  return value;
}

function absolutePaths(req: Record<string, unknown>, key: string, max: number): string[] {
  const value = req[key];
  if (!Array.isArray(value) || value.length === 0) throw new BridgeRequestError("BAD_REQUEST", `${key}: expected a non-empty array of absolute paths`);
  if (value.length > max) throw new BridgeRequestError("BAD_REQUEST", `${key}: at most ${max} paths per request`);
  for (const p of value) {
    // Only normalised paths: "/home/../etc" must not pass a prefix check against "/home".
    const normal = typeof p === "string" && p.startsWith("/") && (p === "/" || (posix.normalize(p) === p && !p.endsWith("/")));
    if (!normal || p.includes("\0") || Buffer.byteLength(p) > MAX_PATH_BYTES) {
      throw new BridgeRequestError("BAD_REQUEST", `${key}: expected normalised absolute paths (got ${JSON.stringify(p)?.slice(0, 80)})`);
    }
  }
  return value as string[];
}

/** Checks the fields of a request whose `type` is known; throws `BAD_REQUEST` naming the bad field. */
export function parseBridgeRequest(req: Record<string, unknown>): BridgeRequest {
  switch (req["type"]) {
    case "hello": {
      const token = req["token"];
      if (token !== undefined && typeof token !== "string") throw new BridgeRequestError("BAD_REQUEST", "token: expected a string");
      return token === undefined ? { type: "hello" } : { type: "hello", token };
    }
    case "stats": {
      const includeUploads = optionalBoolean(req, "includeUploads");
      return includeUploads === undefined ? { type: "stats" } : { type: "stats", includeUploads };
    }
    case "check":
      return { type: "check", paths: absolutePaths(req, "paths", MAX_CHECK_PATHS) };
    case "unpause": {
      const discard = optionalBoolean(req, "discard");
      return discard === undefined ? { type: "unpause" } : { type: "unpause", discard };
    }
    case "rescan":
      return req["roots"] === undefined ? { type: "rescan" } : { type: "rescan", roots: absolutePaths(req, "roots", 100) };
    case "rescanStatus": {
      const wait = optionalBoolean(req, "wait");
      const timeoutMs = req["timeoutMs"];
      if (timeoutMs !== undefined && (typeof timeoutMs !== "number" || !Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_WAIT_MS)) {
        throw new BridgeRequestError("BAD_REQUEST", `timeoutMs: expected an integer from 0 to ${MAX_WAIT_MS}`);
      }
      return { type: "rescanStatus", ...(wait === undefined ? {} : { wait }), ...(timeoutMs === undefined ? {} : { timeoutMs }) };
    }
    case "pause":
    case "cancelRescan":
    case "subscribe":
    case "unsubscribe":
      return { type: req["type"] };
    default:
      throw new BridgeRequestError("UNKNOWN_TYPE", `unknown request type ${JSON.stringify(req["type"])?.slice(0, 80)}`);
  }
}

/** Reads the scan status of a runtime in its bridge form. */
export function scanStatusOf(ctx: BridgeRequestContext): BridgeScanStatus {
  const s = ctx.runtime.scanStatus;
  return {
    running: s.running,
    reason: s.reason,
    number: ctx.scanNumber(),
    walked: s.walked,
    queued: s.queued,
    startedAt: s.startedAt === undefined ? undefined : new Date(s.startedAt).toISOString(),
    last: s.last,
  };
}

/**
 * Carries out one request against the running agent (everything but `hello`, `subscribe` and `unsubscribe`, which
 * concern the connection) and returns its result: at once, or as a promise for a waiting `rescanStatus`.
 */
export function executeBridgeRequest(ctx: BridgeRequestContext, request: BridgeRequest): unknown {
  const rt = ctx.runtime;
  switch (request.type) {
    case "stats":
      return rt.stats({ includeUploads: request.includeUploads !== false });
    case "check": {
      // An update for a path that is gone becomes a delete in the pipeline, so deletions are checked too.
      for (const path of request.paths) rt.submit({ type: "update", path });
      return { submitted: request.paths.length, paused: rt.pipeline.paused };
    }
    case "pause": {
      const wasPaused = rt.pipeline.paused;
      rt.pipeline.pause();
      if (!wasPaused) ctx.notify({ kind: "paused" });
      return { paused: true, wasPaused };
    }
    case "unpause": {
      const wasPaused = rt.pipeline.paused;
      const { processed, discarded } = rt.pipeline.unpause({ discard: request.discard === true });
      if (wasPaused) ctx.notify({ kind: "unpaused", processed, discarded });
      return { paused: false, wasPaused, processed, discarded };
    }
    case "rescan": {
      const start = () => {
        const alreadyRunning = rt.scanStatus.running;
        rt.requestScan("request", request.roots);
        return { requested: true, alreadyRunning, number: ctx.scanNumber() + 1 };
      };
      if (!request.roots) return start();
      // A rescan walks only inside what is backed up: a client cannot point the agent at the rest of the system.
      const requested = request.roots;
      return rt.roots().then((roots) => {
        const outside = requested.find((r) => !roots.some((root) => isUnder(r, root)));
        if (outside !== undefined) throw new BridgeRequestError("BAD_REQUEST", `roots: ${outside} is not under a backup root`);
        return start();
      });
    }
    case "rescanStatus":
      if (request.wait && rt.scanStatus.running) return ctx.nextScanEvent(request.timeoutMs ?? 1000).then(() => scanStatusOf(ctx));
      return scanStatusOf(ctx);
    case "cancelRescan":
      return { cancelled: rt.cancelScan() };
    default:
      throw new BridgeRequestError("INTERNAL", `request ${request.type} is not handled here`);
  }
}
