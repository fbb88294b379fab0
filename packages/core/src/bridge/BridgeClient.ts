import { connect, type Socket } from "node:net";
import { BridgeRequestError } from "./BridgeRequestError.js";
import { FrameDecoder } from "./FrameDecoder.js";
import {
  BRIDGE_PROTOCOL_VERSION,
  MAX_REPLY_FRAME,
  encodeFrame,
  type BridgeNotification,
  type BridgeReply,
  type BridgeRequest,
  type BridgeRequestType,
  type BridgeResults,
} from "./protocol.js";

/** Where a bridge listens: a UNIX socket path, or a TCP address with the token from `bridge-token`. */
export type BridgeEndpoint = { path: string } | { host: string; port: number; token: string };

/** Fields of a request of type `T`, without `type`. */
export type BridgeRequestFields<T extends BridgeRequestType> = Omit<Extract<BridgeRequest, { type: T }>, "type">;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

/**
 * A client of the daemon's bridge (what `rtb console` uses). Requests are answered by id, so several may be in
 * flight; notifications arrive through {@link BridgeClient.onNotification} after a `subscribe`.
 */
export class BridgeClient {
  readonly #socket: Socket;
  readonly #decoder = new FrameDecoder(MAX_REPLY_FRAME);
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Set<(n: BridgeNotification) => void>();
  readonly #closeListeners = new Set<(err: Error | undefined) => void>();
  #nextId = 1;
  #closedWith: Error | undefined;
  #closed = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (err) => this.#fail(err));
    socket.on("close", () => this.#fail(new Error("the daemon closed the connection")));
  }

  /** Connects (and for TCP authenticates with the token); rejects with the system error (EACCES, ENOENT, ...). */
  static async connect(endpoint: BridgeEndpoint, options: { timeoutMs?: number } = {}): Promise<BridgeClient> {
    const where = "path" in endpoint ? endpoint.path : `${endpoint.host}:${endpoint.port}`;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = "path" in endpoint ? connect(endpoint.path) : connect(endpoint.port, endpoint.host);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`cannot connect to ${where}: timed out`));
      }, options.timeoutMs ?? 5000);
      s.once("connect", () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once("error", (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const why =
          err.code === "EACCES"
            ? "permission denied (the bridge is root-only)"
            : err.code === "ENOENT"
              ? "no such socket (is the daemon running, with this IPCPath?)"
              : err.code === "ECONNREFUSED"
                ? "connection refused (the daemon is not running)"
                : err.message;
        const e = new Error(`cannot connect to ${where}: ${why}`) as NodeJS.ErrnoException;
        if (err.code !== undefined) e.code = err.code;
        reject(e);
      });
    });
    const client = new BridgeClient(socket);
    if (!("path" in endpoint)) await client.request("hello", { token: endpoint.token });
    return client;
  }

  /** Sends a request and resolves with its result; a refused request rejects with a {@link BridgeRequestError}. */
  request<T extends BridgeRequestType>(type: T, fields?: BridgeRequestFields<T>): Promise<BridgeResults[T]> {
    if (this.#closed) return Promise.reject(this.#closedWith ?? new Error("the connection is closed"));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#socket.write(encodeFrame({ v: BRIDGE_PROTOCOL_VERSION, id, type, ...fields }));
    });
  }

  /** Calls `listener` with every notification (send a `subscribe` request to start them). Returns an unsubscriber. */
  onNotification(listener: (n: BridgeNotification) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Calls `listener` once when the connection ends (with the error, if it failed). */
  onClose(listener: (err: Error | undefined) => void): void {
    this.#closeListeners.add(listener);
  }

  /** Closes the connection; pending requests reject. */
  close(): void {
    this.#fail(undefined);
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    for (const frame of this.#decoder.push(chunk)) {
      if ("tooLarge" in frame) return this.#fail(new Error(`the daemon sent a frame of ${frame.tooLarge} bytes, over the limit`));
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(frame.payload.toString("utf8")) as Record<string, unknown>;
      } catch {
        return this.#fail(new Error("the daemon sent a frame that is not JSON"));
      }
      if (message["notification"] !== undefined) {
        for (const l of this.#listeners) l(message["notification"] as BridgeNotification);
        continue;
      }
      const reply = message as unknown as BridgeReply;
      const pending = typeof reply.id === "number" ? this.#pending.get(reply.id) : undefined;
      if (!pending) {
        if (!reply.ok) this.#fail(new BridgeRequestError(reply.error.code, reply.error.message));
        continue;
      }
      this.#pending.delete(reply.id as number);
      if (reply.ok) pending.resolve(reply.result);
      else pending.reject(new BridgeRequestError(reply.error.code, reply.error.message));
    }
  }

  #fail(err: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closedWith = err;
    for (const p of this.#pending.values()) p.reject(err ?? new Error("the connection is closed"));
    this.#pending.clear();
    for (const l of this.#closeListeners) l(err);
    this.#socket.destroy();
  }
}
