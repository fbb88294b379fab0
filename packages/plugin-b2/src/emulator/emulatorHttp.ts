import type { IncomingMessage, ServerResponse } from "node:http";
import type { StoredVersion } from "./EmulatorBucket.js";

/** An error answer of the B2 API: JSON `{status, code, message}`. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/** Shorthand for the most common error: 400 bad_request. */
export function badRequest(message: string, code = "bad_request"): ApiError {
  return new ApiError(400, code, message);
}

/** Writes a JSON answer. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    "Content-Type": "application/json;charset=utf-8",
    "Content-Length": String(text.length),
    "Cache-Control": "max-age=0, no-cache, no-store",
    ...headers,
  });
  res.end(text);
}

/** Writes an {@link ApiError} as B2 does. */
export function sendError(res: ServerResponse, err: ApiError): void {
  sendJson(res, err.status, { status: err.status, code: err.code, message: err.message }, err.headers);
}

/** The first value of a request header. */
export function headerOf(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Raised when the client went away before its request body was complete. */
export class ClientAborted extends Error {}

/** Reads a whole request body (rejecting with {@link ClientAborted} if the connection breaks first). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of req) {
      total += (chunk as Buffer).length;
      if (total > limit) throw new ApiError(400, "bad_request", `request body larger than ${limit} bytes`);
      parts.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ClientAborted("client aborted the request body");
  }
  if (!req.complete) throw new ClientAborted("client aborted the request body");
  return Buffer.concat(parts);
}

/** Reads and drops a request body (so a fault answer does not race the client's upload). */
export async function drainBody(req: IncomingMessage): Promise<void> {
  try {
    for await (const _chunk of req) {
      // Discarded on purpose.
    }
  } catch {
    // A client that went away needs no answer.
  }
}

/** Reads part of the request body, then drops the connection (the `reset` fault). */
export async function resetMidBody(req: IncomingMessage): Promise<void> {
  const socket = req.socket;
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > 0 && !req.complete) {
    await new Promise<void>((resolve) => {
      let seen = 0;
      const done = () => {
        req.off("data", onData);
        resolve();
      };
      const onData = (chunk: Buffer) => {
        seen += chunk.length;
        if (seen * 2 >= declared) done();
      };
      req.on("data", onData);
      req.once("end", done);
      req.once("error", done);
      req.once("close", done);
    });
  }
  socket.destroy();
}

/** The parsed `Range` header: satisfiable, unsatisfiable, or absent/ignored (whole file). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | "unsatisfiable" | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== "" && Number(m[2]) < start) return undefined;
  }
  if (start >= size || size === 0) return "unsatisfiable";
  return { start, end };
}

/** The JSON B2 returns for a file version. */
export function fileJson(version: StoredVersion, accountId: string): Record<string, unknown> {
  return {
    accountId,
    action: version.action,
    bucketId: version.bucketId,
    contentLength: version.action === "upload" ? version.data.length : 0,
    contentSha1: version.contentSha1,
    contentMd5: null,
    contentType: version.contentType,
    fileId: version.fileId,
    fileInfo: version.fileInfo,
    fileName: version.fileName,
    fileRetention: { isClientAuthorizedToRead: false, value: null },
    legalHold: { isClientAuthorizedToRead: false, value: null },
    serverSideEncryption: { algorithm: null, mode: null },
    uploadTimestamp: version.uploadTimestamp,
  };
}

/** Reads a JSON object from a request: the body of a POST, the query string of a GET. */
export async function readParams(req: IncomingMessage, url: URL): Promise<Record<string, unknown>> {
  if (req.method === "GET" || req.method === "HEAD") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of url.searchParams) out[k] = v;
    return out;
  }
  const body = await readBody(req, 1024 * 1024);
  if (body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    throw new ApiError(400, "bad_json", "request body is not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ApiError(400, "bad_json", "request body must be a JSON object");
  }
  return parsed as Record<string, unknown>;
}

/** The parameters of a JSON call. */
export type Params = Record<string, unknown>;

/** A required string parameter. */
export function str(p: Params, name: string): string {
  const v = p[name];
  if (typeof v !== "string" || v === "") throw badRequest(`required field ${name} is missing`);
  return v;
}

/** An optional string parameter (`null` when absent or empty). */
export function optStr(p: Params, name: string): string | null {
  const v = p[name];
  if (v === undefined || v === null || v === "") return null;
  if (typeof v !== "string") throw badRequest(`field ${name} must be a string`);
  return v;
}

/** A non-negative integer parameter (numbers or numeric strings). */
export function int(p: Params, name: string, fallback: number): number {
  const v = p[name];
  if (v === undefined || v === null || v === "") return fallback;
  const n = typeof v === "number" ? v : Number(v);
  if (!Number.isInteger(n) || n < 0) throw badRequest(`field ${name} must be a non-negative integer`);
  return n;
}
