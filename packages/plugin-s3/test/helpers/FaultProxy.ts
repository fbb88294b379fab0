import { createHash } from "node:crypto";
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** What the proxy saw of one request. */
export interface SeenRequest {
  method: string;
  /** Path and query as sent (`/bucket/key?partNumber=1&uploadId=...`). */
  url: string;
  headers: IncomingMessage["headers"];
  bodyBytes: number;
  /** Base64 MD5 of the body as received (compare with Content-MD5). */
  bodyMd5: string;
  /** The fault injected, if any. */
  fault: FaultKind | undefined;
  /** When the request arrived and when its response ended (ms, monotonic). */
  started: number;
  ended: number | undefined;
}

/**
 * - `slowdown`: 503 with S3's SlowDown error document.
 * - `unavailable`: 503 ServiceUnavailable. `internal`: 500 InternalError.
 * - `reset`: the connection is destroyed once the request arrived, before anything reaches s3rver.
 * - `reset-after`: the request is forwarded (s3rver applies it) but the connection is destroyed instead of
 *   answering.
 * - `truncate`: the response is forwarded with its headers and the first `truncateAfter` body bytes, then the
 *   connection is destroyed.
 * - `denied`: 403 AccessDenied (a permanent error).
 * - `denied-echo`: 403 InvalidAccessKeyId whose message quotes the access key id from the Authorization header,
 *   as some servers do.
 */
export type FaultKind = "slowdown" | "unavailable" | "internal" | "reset" | "reset-after" | "truncate" | "denied" | "denied-echo";

/** One injection rule: the next `times` requests matching `match` get `fault`. */
export interface FaultRule {
  match: (req: { method: string; url: string; headers: IncomingMessage["headers"] }) => boolean;
  fault: FaultKind;
  times: number;
  /** For `truncate`: body bytes passed before the cut (default 64 KiB). */
  truncateAfter?: number;
}

/** Every `every`-th request matching `match` gets the next of `faults` (round robin), `times` faults in all. */
export interface PeriodicFaultRule {
  match: FaultRule["match"];
  every: number;
  faults: FaultKind[];
  times: number;
  truncateAfter?: number;
}

const ERROR_DOCS: Record<string, [number, string, string]> = {
  slowdown: [503, "SlowDown", "Please reduce your request rate."],
  unavailable: [503, "ServiceUnavailable", "Service is unable to handle request."],
  internal: [500, "InternalError", "We encountered an internal error. Please try again."],
  denied: [403, "AccessDenied", "Access Denied"],
};

/**
 * A small HTTP proxy in front of s3rver that records every request and injects faults by rule. It forwards the
 * Host header unchanged, so SigV4 signatures made for the proxy's address still verify at s3rver.
 */
export class FaultProxy {
  readonly seen: SeenRequest[] = [];
  readonly #rules: FaultRule[] = [];
  readonly #periodic: { rule: PeriodicFaultRule; seen: number; given: number }[] = [];
  readonly #target: URL;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #port = 0;

  private constructor(target: string) {
    this.#target = new URL(target);
    this.#server = createServer((req, res) => this.#handle(req, res));
    this.#server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.once("close", () => this.#sockets.delete(socket));
    });
  }

  /** Starts a proxy on 127.0.0.1 (kernel-chosen port) forwarding to `target` (`http://127.0.0.1:port`). */
  static async start(target: string): Promise<FaultProxy> {
    const proxy = new FaultProxy(target);
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once("error", reject);
      proxy.#server.listen(0, "127.0.0.1", () => resolve());
    });
    proxy.#port = (proxy.#server.address() as AddressInfo).port;
    return proxy;
  }

  /** `http://127.0.0.1:<port>` */
  get endpoint(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Adds an injection rule (rules are tried in the order added). */
  inject(rule: FaultRule): void {
    this.#rules.push({ ...rule });
  }

  /** Adds a periodic injection rule (tried after the one-off rules). */
  injectPeriodic(rule: PeriodicFaultRule): void {
    this.#periodic.push({ rule, seen: 0, given: 0 });
  }

  /** Faults still pending across all rules. */
  get pending(): number {
    return this.#rules.reduce((n, r) => n + r.times, 0) + this.#periodic.reduce((n, p) => n + p.rule.times - p.given, 0);
  }

  #pick(req: { method: string; url: string; headers: IncomingMessage["headers"] }): { fault: FaultKind; truncateAfter: number } | undefined {
    const rule = this.#rules.find((r) => r.times > 0 && r.match(req));
    if (rule) {
      rule.times -= 1;
      return { fault: rule.fault, truncateAfter: rule.truncateAfter ?? 65536 };
    }
    for (const p of this.#periodic) {
      if (p.given >= p.rule.times || !p.rule.match(req)) continue;
      p.seen += 1;
      if (p.seen % p.rule.every !== 0) continue;
      const fault = p.rule.faults[p.given % p.rule.faults.length]!;
      p.given += 1;
      return { fault, truncateAfter: p.rule.truncateAfter ?? 65536 };
    }
    return undefined;
  }

  /** Requests seen whose method matches and whose URL matches `pattern`. */
  count(method: string, pattern: RegExp = /./): number {
    return this.seen.filter((r) => r.method === method && pattern.test(r.url)).length;
  }

  /** The most requests among those `filter` keeps that were in flight at the same moment. */
  maxConcurrent(filter: (r: SeenRequest) => boolean): number {
    const edges = this.seen
      .filter(filter)
      .flatMap(
        (r) =>
          [
            [r.started, 1],
            [r.ended ?? Infinity, -1],
          ] as const,
      )
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let now = 0;
    let max = 0;
    for (const [, d] of edges) max = Math.max(max, (now += d));
    return max;
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    const picked = this.#pick({ method, url, headers: req.headers });
    const fault = picked?.fault;
    const md5 = createHash("md5");
    const record: SeenRequest = {
      method,
      url,
      headers: req.headers,
      bodyBytes: 0,
      bodyMd5: "",
      fault,
      started: performance.now(),
      ended: undefined,
    };
    this.seen.push(record);
    res.once("close", () => (record.ended = performance.now()));
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => {
      record.bodyBytes += chunk.length;
      md5.update(chunk);
      chunks.push(chunk);
    });
    req.on("error", () => res.destroy());
    req.on("end", () => {
      record.bodyMd5 = md5.digest("base64");
      if (fault === "reset") {
        req.socket.destroy();
        return;
      }
      if (fault === "denied-echo") {
        const keyId = /Credential=([^/]+)\//.exec(String(req.headers["authorization"] ?? ""))?.[1] ?? "?";
        ERROR_DOCS["denied-echo"] = [403, "InvalidAccessKeyId", `The access key id '${keyId}' is not valid.`];
      }
      if (fault && ERROR_DOCS[fault]) {
        const [status, code, message] = ERROR_DOCS[fault]!;
        const body =
          method === "HEAD"
            ? ""
            : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault</RequestId></Error>`;
        res.writeHead(status, { "content-type": "application/xml", "content-length": Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      this.#forward(req, res, Buffer.concat(chunks), fault, picked?.truncateAfter ?? 65536);
    });
  }

  #forward(req: IncomingMessage, res: ServerResponse, body: Buffer, fault: FaultKind | undefined, truncateAfter: number): void {
    const upstream = httpRequest(
      {
        host: this.#target.hostname,
        port: this.#target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        if (fault === "reset-after") {
          up.resume();
          up.on("end", () => req.socket.destroy());
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (fault !== "truncate") {
          up.pipe(res);
          return;
        }
        let passed = 0;
        up.on("data", (chunk: Buffer) => {
          if (passed >= truncateAfter) return;
          const room = truncateAfter - passed;
          passed += Math.min(room, chunk.length);
          res.write(chunk.subarray(0, room), () => {
            if (passed >= truncateAfter) req.socket.destroy();
          });
        });
        up.on("end", () => req.socket.destroy());
      },
    );
    upstream.on("error", () => res.destroy());
    upstream.end(body);
  }
}
