import type { Socket } from "node:net";
import { timingSafeEqual } from "node:crypto";
import { messageOf } from "../errors.js";
import { redactSecrets } from "../secrets/SecretRegistry.js";
import type { Logger } from "../logger.js";
import { BridgeRequestError } from "./BridgeRequestError.js";
import { executeBridgeRequest, parseBridgeRequest, type BridgeRequestContext } from "./executeBridgeRequest.js";
import { FrameDecoder, type DecodedFrame } from "./FrameDecoder.js";
import { BRIDGE_PROTOCOL_VERSION, MAX_REQUEST_FRAME, encodeFrameText, type BridgeErrorCode, type BridgeNotification, type BridgeReply } from "./protocol.js";

/** Limits of one client connection. */
export interface BridgeConnectionLimits {
  /** Unread bytes queued for a client past which it is dropped (notifications can push it there). */
  maxQueuedBytes: number;
  /** Unread reply bytes past which the client's requests are no longer read until it drains. */
  replyHighWaterBytes: number;
  /** A client whose replies stay over the high-water mark this long is dropped. */
  stallTimeoutMs: number;
  /** Requests of one client being answered at once (long `rescanStatus` waits). */
  maxInFlight: number;
  /** Malformed frames tolerated before the connection is closed. */
  maxBadFrames: number;
  /** A client that must authenticate (TCP) is closed if it has not within this time. */
  authTimeoutMs: number;
}

/** Default {@link BridgeConnectionLimits}. */
export const defaultConnectionLimits: BridgeConnectionLimits = {
  maxQueuedBytes: 1024 * 1024,
  replyHighWaterBytes: 256 * 1024,
  stallTimeoutMs: 5000,
  maxInFlight: 16,
  maxBadFrames: 64,
  authTimeoutMs: 3_000,
};

/**
 * One client of the bridge: splits its bytes into frames, checks and answers each request, and pushes notifications
 * once it subscribed. Nothing a client sends can throw out of here; the worst outcome is its own connection closed.
 */
export class BridgeConnection {
  readonly socket: Socket;
  readonly #ctx: BridgeRequestContext;
  readonly #log: Logger;
  readonly #limits: BridgeConnectionLimits;
  readonly #token: Buffer | undefined;
  readonly #decoder = new FrameDecoder(MAX_REQUEST_FRAME);
  readonly #onClose: (c: BridgeConnection) => void;
  #authenticated: boolean;
  #authTimer: NodeJS.Timeout | undefined;
  #subscribed = false;
  #inFlight = 0;
  #badFrames = 0;
  #closed = false;
  #backlog: DecodedFrame[] = [];
  #stallTimer: NodeJS.Timeout | undefined;

  constructor(options: {
    socket: Socket;
    context: BridgeRequestContext;
    logger: Logger;
    limits: BridgeConnectionLimits;
    /** When set, the first request must be a `hello` carrying this token. */
    token: Buffer | undefined;
    onClose: (c: BridgeConnection) => void;
  }) {
    this.socket = options.socket;
    this.#ctx = options.context;
    this.#log = options.logger;
    this.#limits = options.limits;
    this.#token = options.token;
    this.#onClose = options.onClose;
    this.#authenticated = options.token === undefined;
    if (!this.#authenticated) {
      this.#authTimer = setTimeout(() => this.close("did not authenticate in time"), this.#limits.authTimeoutMs);
      this.#authTimer.unref();
    }
    this.socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    this.socket.on("error", () => this.close());
    this.socket.on("close", () => this.close());
  }

  /** Whether the client may send requests: always on the UNIX socket, after a valid `hello` on TCP. */
  get authenticated(): boolean {
    return this.#authenticated;
  }

  /** Whether notifications go to this client. */
  get subscribed(): boolean {
    return this.#subscribed && !this.#closed;
  }

  /** Pushes a notification; a client whose unread output is over the limit is dropped instead. */
  notify(notification: BridgeNotification): void {
    if (this.subscribed) this.#send({ v: BRIDGE_PROTOCOL_VERSION, notification });
  }

  /** Closes the connection (idempotent). */
  close(reason?: string): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#authTimer) clearTimeout(this.#authTimer);
    if (this.#stallTimer) clearTimeout(this.#stallTimer);
    this.#backlog = [];
    if (reason) this.#log.debug(`bridge client closed: ${reason}`);
    this.socket.destroy();
    this.#onClose(this);
  }

  #send(message: unknown): void {
    if (this.#closed) return;
    if (this.socket.writableLength > this.#limits.maxQueuedBytes) {
      this.close(`it does not read its replies (${this.socket.writableLength} bytes queued)`);
      return;
    }
    // Replies and notifications carry paths and error texts a server may have filled with a credential.
    this.socket.write(encodeFrameText(redactSecrets(JSON.stringify(message))));
  }

  #reply(id: string | number | null, result: unknown): void {
    const reply: BridgeReply = { v: BRIDGE_PROTOCOL_VERSION, id, ok: true, result };
    this.#send(reply);
  }

  #error(id: string | number | null, code: BridgeErrorCode, message: string): void {
    const reply: BridgeReply = { v: BRIDGE_PROTOCOL_VERSION, id, ok: false, error: { code, message } };
    this.#send(reply);
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    this.#backlog.push(...this.#decoder.push(chunk));
    this.#pump();
  }

  /**
   * Answers queued frames until the client's unread replies pass the high-water mark; then stops reading from it
   * (so it cannot make the daemon buffer more) until it drains, or drops it if it does not drain in time.
   */
  #pump(): void {
    while (this.#backlog.length && !this.#closed) {
      if (this.socket.writableLength > this.#limits.replyHighWaterBytes) {
        if (this.#stallTimer) return;
        this.socket.pause();
        this.#stallTimer = setTimeout(() => this.close("it does not read its replies"), this.#limits.stallTimeoutMs);
        this.#stallTimer.unref();
        this.socket.once("drain", () => {
          clearTimeout(this.#stallTimer);
          this.#stallTimer = undefined;
          if (this.#closed) return;
          this.socket.resume();
          this.#pump();
        });
        return;
      }
      const frame = this.#backlog.shift()!;
      if ("tooLarge" in frame) {
        this.#error(null, "BAD_FRAME", `frame of ${frame.tooLarge} bytes is over the limit of ${MAX_REQUEST_FRAME}`);
        this.socket.end();
        this.close("frame too large");
        return;
      }
      this.#onFrame(frame.payload);
    }
  }

  #onFrame(payload: Buffer): void {
    let message: unknown;
    try {
      message = JSON.parse(payload.toString("utf8"));
    } catch {
      return this.#bad(null, "BAD_FRAME", "the frame is not JSON");
    }
    if (typeof message !== "object" || message === null || Array.isArray(message)) return this.#bad(null, "BAD_FRAME", "expected a JSON object");
    const req = message as Record<string, unknown>;
    const rawId = req["id"];
    const id = (typeof rawId === "string" && rawId.length <= 128) || (typeof rawId === "number" && Number.isFinite(rawId)) ? rawId : null;
    if (id === null) return this.#bad(null, "BAD_REQUEST", "id: expected a number or a string of at most 128 characters");
    if (req["v"] !== BRIDGE_PROTOCOL_VERSION) return this.#bad(id, "UNSUPPORTED_VERSION", `v: this server speaks protocol ${BRIDGE_PROTOCOL_VERSION}`);
    if (!this.#authenticated && req["type"] !== "hello") {
      this.#error(id, "AUTH_REQUIRED", "send hello with the token from bridge-token first");
      this.socket.end();
      return this.close("request before authentication");
    }
    if (this.#inFlight >= this.#limits.maxInFlight) return this.#error(id, "TOO_MANY_REQUESTS", `at most ${this.#limits.maxInFlight} requests at once`);
    // Answer at once when the request is synchronous, so replies keep the order of their requests.
    let result: unknown;
    try {
      result = this.#handle(id, req);
    } catch (err) {
      return this.#failed(id, req, err);
    }
    if (!(result instanceof Promise)) return this.#reply(id, result);
    this.#inFlight++;
    result
      .then(
        (value) => this.#reply(id, value),
        (err: unknown) => this.#failed(id, req, err),
      )
      .finally(() => this.#inFlight--);
  }

  #failed(id: string | number, req: Record<string, unknown>, err: unknown): void {
    if (err instanceof BridgeRequestError) return this.#bad(id, err.code, err.message);
    this.#log.warn(`bridge request ${String(req["type"]).slice(0, 40)} failed: ${messageOf(err)}`);
    this.#error(id, "INTERNAL", messageOf(err));
  }

  #handle(id: string | number, req: Record<string, unknown>): unknown {
    const request = parseBridgeRequest(req);
    switch (request.type) {
      case "hello": {
        if (!this.#authenticated) {
          const given = Buffer.from(request.token ?? "", "utf8");
          if (given.length !== this.#token!.length || !timingSafeEqual(given, this.#token!)) {
            this.#error(id, "AUTH_FAILED", "wrong token");
            this.socket.end();
            this.close("wrong token");
            throw new BridgeRequestError("AUTH_FAILED", "wrong token");
          }
          this.#authenticated = true;
          clearTimeout(this.#authTimer);
        }
        return { protocol: BRIDGE_PROTOCOL_VERSION, versions: [BRIDGE_PROTOCOL_VERSION], server: "rtb", pid: process.pid, authenticated: true };
      }
      case "subscribe":
        this.#subscribed = true;
        return { subscribed: true, lastSeq: this.#ctx.lastSeq() };
      case "unsubscribe":
        this.#subscribed = false;
        return { subscribed: false };
      default:
        return executeBridgeRequest(this.#ctx, request);
    }
  }

  #bad(id: string | number | null, code: BridgeErrorCode, message: string): void {
    this.#error(id, code, message);
    if (++this.#badFrames > this.#limits.maxBadFrames) {
      this.socket.end();
      this.close("too many bad requests");
    }
  }
}
