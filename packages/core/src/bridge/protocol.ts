import type { AgentStats, ScanResult } from "../Runtime.js";
import type { ScanInfo } from "../types.js";

/**
 * Version of the bridge protocol (docs/service.md). A server answers `hello` with the versions it speaks; a request
 * whose `v` it does not speak gets an `UNSUPPORTED_VERSION` error.
 */
export const BRIDGE_PROTOCOL_VERSION = 1;

/** Largest request frame the server accepts (payload bytes, without the 4-byte prefix); larger closes the connection. */
export const MAX_REQUEST_FRAME = 1024 * 1024;

/** Largest reply or notification frame a client accepts. */
export const MAX_REPLY_FRAME = 16 * 1024 * 1024;

/** At most this many paths in one `check` request. */
export const MAX_CHECK_PATHS = 10_000;

/** File names inside `IPCPath`. */
export const BRIDGE_FILES = {
  socket: "bridge.socket",
  tcpPort: "bridge-tcp-port",
  token: "bridge-token",
} as const;

/** Requests a client may send; every one carries `v` (protocol version) and `id` (echoed in the reply). */
export type BridgeRequest =
  | { type: "hello"; token?: string }
  | { type: "stats"; includeUploads?: boolean }
  | { type: "check"; paths: string[] }
  | { type: "pause" }
  | { type: "unpause"; discard?: boolean }
  | { type: "rescan"; roots?: string[] }
  | { type: "rescanStatus"; wait?: boolean; timeoutMs?: number }
  | { type: "cancelRescan" }
  | { type: "subscribe" }
  | { type: "unsubscribe" };

/** The `type` of a request. */
export type BridgeRequestType = BridgeRequest["type"];

/** Error codes a reply may carry. */
export type BridgeErrorCode =
  "BAD_FRAME" | "BAD_REQUEST" | "UNKNOWN_TYPE" | "UNSUPPORTED_VERSION" | "AUTH_REQUIRED" | "AUTH_FAILED" | "TOO_MANY_REQUESTS" | "NOT_RUNNING" | "INTERNAL";

/** Status of scans, as `rescanStatus` returns it. */
export interface BridgeScanStatus {
  running: boolean;
  reason: ScanInfo["reason"] | undefined;
  /** Scans started since the daemon started (the running one included). */
  number: number;
  walked: number;
  queued: number;
  startedAt: string | undefined;
  last: ScanResult | undefined;
}

/** The result of each request type. */
export interface BridgeResults {
  hello: { protocol: number; versions: number[]; server: string; pid: number; authenticated: boolean };
  stats: AgentStats;
  check: { submitted: number; paused: boolean };
  pause: { paused: true; wasPaused: boolean };
  unpause: { paused: false; wasPaused: boolean; processed: number; discarded: number };
  rescan: { requested: true; alreadyRunning: boolean; number: number };
  rescanStatus: BridgeScanStatus;
  cancelRescan: { cancelled: boolean };
  subscribe: { subscribed: true; lastSeq: number };
  unsubscribe: { subscribed: false };
}

/** A reply: exactly one per request, with the request's `id` (null when the request could not be read). */
export type BridgeReply =
  | { v: number; id: string | number | null; ok: true; result: unknown }
  | { v: number; id: string | number | null; ok: false; error: { code: BridgeErrorCode; message: string } };

/** Something that happened in the daemon, pushed to subscribed clients. */
export type BridgeNotificationBody =
  | { kind: "uploadStarted"; path: string; size: number }
  | { kind: "uploaded"; path: string; size: number; bytesUploaded: number | undefined }
  | { kind: "failure"; path: string; stage: string; attempts: number; message: string; retryAt: string | undefined }
  | { kind: "scanStarted"; reason: ScanInfo["reason"]; roots: string[]; number: number }
  | { kind: "scanFinished"; reason: ScanInfo["reason"]; roots: string[]; number: number; changed: number | undefined }
  | { kind: "paused" }
  | { kind: "unpaused"; processed: number; discarded: number };

/** A notification frame: `seq` grows by one per notification of this daemon, `time` is ISO 8601. */
export type BridgeNotification = BridgeNotificationBody & { seq: number; time: string };

/** The frame that carries a notification (it has no `id`). */
export interface BridgeNotificationFrame {
  v: number;
  notification: BridgeNotification;
}

/** Encodes one frame: a 4-byte big-endian payload length, then the payload (UTF-8 JSON). */
export function encodeFrame(message: unknown): Buffer {
  return encodeFrameText(JSON.stringify(message));
}

/** Frames an already serialized JSON message. */
export function encodeFrameText(json: string): Buffer {
  const payload = Buffer.from(json, "utf8");
  const frame = Buffer.allocUnsafe(4 + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  payload.copy(frame, 4);
  return frame;
}
