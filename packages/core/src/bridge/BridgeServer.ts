import { createServer, connect, isIP, type Server, type Socket } from "node:net";
import { randomBytes } from "node:crypto";
import { chmod, chown, lstat, mkdir, readFile, rm, unlink } from "node:fs/promises";
import { join } from "node:path";
import { BackupError, ConfigError, messageOf } from "../errors.js";
import { writePrivateFile } from "../io/privateFile.js";
import type { Logger } from "../logger.js";
import type { Runtime } from "../Runtime.js";
import { BridgeConnection, defaultConnectionLimits, type BridgeConnectionLimits } from "./BridgeConnection.js";
import type { BridgeRequestContext } from "./executeBridgeRequest.js";
import { BRIDGE_FILES, type BridgeNotificationBody } from "./protocol.js";

/** Options of {@link BridgeServer}; each defaults to the engine's IPC parameters. */
export interface BridgeServerOptions {
  /** Directory of `bridge.socket`, `bridge-tcp-port` and `bridge-token` (IPCPath). */
  ipcPath?: string;
  /** Listen on `<ipcPath>/bridge.socket` (IPCUseUNIXSocket). */
  useUnixSocket?: boolean;
  /** Listen on TCP too, with a token (IPCUseTCPSocket). */
  useTcpSocket?: boolean;
  /** TCP bind address (IPCBindTCPAddress, default 127.0.0.1). */
  tcpAddress?: string;
  /** TCP port, 0 = dynamic (IPCBindTCPPortNumber). */
  tcpPort?: number;
  /** A group (name or gid) given access to the UNIX socket: mode 0660 instead of 0600. */
  group?: string | number;
  /** Clients on the UNIX socket at once; more are closed on accept. TCP clients never count here. Default 64. */
  maxUnixClients?: number;
  /** Clients on the TCP socket at once, authenticated or not; more are closed on accept. Default 64. */
  maxTcpClients?: number;
  /**
   * TCP clients that have not authenticated yet, at once; more are closed on accept. Each must send `hello` with
   * the token within `limits.authTimeoutMs` (default 3,000 ms) or it is dropped. Default 8.
   */
  maxUnauthenticatedTcpClients?: number;
  /** Per-client limits (see {@link BridgeConnectionLimits}). */
  limits?: Partial<BridgeConnectionLimits>;
}

const PLUGIN_NAME = "BridgeServer";

/** `value` if it is a positive integer, else a ConfigError naming the bridge option. */
function positiveInteger(option: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    const got = JSON.stringify(value) ?? String(value);
    throw new ConfigError(`BridgeServer.options.${option}`, `expected a positive integer, got ${got}`);
  }
  return value;
}

async function resolveGroup(group: string | number): Promise<number> {
  if (typeof group === "number") return group;
  if (/^\d+$/.test(group)) return Number(group);
  const text = await readFile("/etc/group", "utf8").catch(() => "");
  for (const line of text.split("\n")) {
    const [name, , gid] = line.split(":");
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new ConfigError("bridge group", `no group named "${group}" in /etc/group`);
}

/** True when something accepts connections on the UNIX socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const timer = setTimeout(() => {
      s.destroy();
      resolve(true);
    }, 2000);
    s.once("connect", () => {
      clearTimeout(timer);
      s.destroy();
      resolve(true);
    });
    s.once("error", () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/**
 * The daemon's bridge: a UNIX socket (mode 0600, or 0660 with a group) and optionally a token-protected TCP socket,
 * speaking the length-prefixed JSON protocol of docs/service.md. Operators query stats, submit paths, pause, unpause
 * and steer rescans through it, and subscribe to notifications (uploads, failures, scans, pause state).
 */
export class BridgeServer {
  readonly #runtime: Runtime;
  readonly #log: Logger;
  readonly #ipcPath: string;
  readonly #useUnix: boolean;
  readonly #useTcp: boolean;
  readonly #tcpAddress: string;
  readonly #tcpPort: number;
  readonly #group: string | number | undefined;
  readonly #maxUnix: number;
  readonly #maxTcp: number;
  readonly #maxUnauthenticated: number;
  readonly #limits: BridgeConnectionLimits;
  readonly #clients = new Set<BridgeConnection>();
  readonly #unixClients = new Set<BridgeConnection>();
  readonly #tcpClients = new Set<BridgeConnection>();
  #refused = 0;
  readonly #servers: Server[] = [];
  readonly #files: string[] = [];
  #socketPath: string | undefined;
  #boundPort: number | undefined;
  #token: Buffer | undefined;
  #seq = 0;
  #scanNumber = 0;
  #scanWaiters: (() => void)[] = [];
  #closed = false;
  readonly #context: BridgeRequestContext;

  constructor(runtime: Runtime, options: BridgeServerOptions = {}) {
    const p = runtime.parameters;
    this.#runtime = runtime;
    this.#log = runtime.logger("bridge");
    this.#ipcPath = options.ipcPath ?? p.ipcPath;
    this.#useUnix = options.useUnixSocket ?? p.ipcUseUNIXSocket;
    this.#useTcp = options.useTcpSocket ?? p.ipcUseTCPSocket;
    this.#tcpAddress = options.tcpAddress ?? p.ipcBindTCPAddress;
    this.#tcpPort = options.tcpPort ?? p.ipcBindTCPPortNumber;
    this.#group = options.group;
    this.#maxUnix = positiveInteger("maxUnixClients", options.maxUnixClients ?? 64);
    this.#maxTcp = positiveInteger("maxTcpClients", options.maxTcpClients ?? 64);
    this.#maxUnauthenticated = positiveInteger("maxUnauthenticatedTcpClients", options.maxUnauthenticatedTcpClients ?? 8);
    this.#limits = { ...defaultConnectionLimits, ...options.limits };
    for (const [name, value] of Object.entries(this.#limits)) positiveInteger(`limits.${name}`, value);
    if (typeof this.#ipcPath !== "string" || !this.#ipcPath.startsWith("/")) throw new ConfigError("IPCPath", "expected an absolute directory path");
    if (this.#useTcp && isIP(this.#tcpAddress) === 0) throw new ConfigError("IPCBindTCPAddress", `expected an IP address, got "${this.#tcpAddress}"`);
    if (!Number.isInteger(this.#tcpPort) || this.#tcpPort < 0 || this.#tcpPort > 65535)
      throw new ConfigError("IPCBindTCPPortNumber", "expected a port from 0 (dynamic) to 65535");
    this.#context = {
      runtime,
      scanNumber: () => this.#scanNumber,
      lastSeq: () => this.#seq,
      notify: (body) => this.#notify(body),
      nextScanEvent: (ms) => this.#nextScanEvent(ms),
    };
  }

  #nextScanEvent(ms: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const waiters = this.#scanWaiters;
      const done = () => {
        clearTimeout(timer);
        const i = waiters.indexOf(done);
        if (i >= 0) waiters.splice(i, 1);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waiters.push(done);
    });
  }

  /** Path of the UNIX socket, once listening on it. */
  get socketPath(): string | undefined {
    return this.#socketPath;
  }

  /** The TCP port, once listening on TCP. */
  get tcpPort(): number | undefined {
    return this.#boundPort;
  }

  /** Path of the TCP token file (root-only). */
  get tokenPath(): string {
    return join(this.#ipcPath, BRIDGE_FILES.token);
  }

  /** Clients connected now. */
  get clientCount(): number {
    return this.#clients.size;
  }

  /** Clients connected now, by socket; `unauthenticated` are TCP clients that have not sent a valid `hello` yet. */
  get clientCounts(): { unix: number; tcp: number; unauthenticated: number } {
    return { unix: this.#unixClients.size, tcp: this.#tcpClients.size, unauthenticated: this.#unauthenticated() };
  }

  /** Connections closed on accept because a limit was reached. */
  get refusedClients(): number {
    return this.#refused;
  }

  /** Which limit a new client of this socket would pass, if any. */
  #limitReached(tcp: boolean): string | undefined {
    if (!tcp) {
      return this.#unixClients.size >= this.#maxUnix ? `${this.#maxUnix} UNIX socket clients connected (maxUnixClients)` : undefined;
    }
    if (this.#tcpClients.size >= this.#maxTcp) return `${this.#maxTcp} TCP clients connected (maxTcpClients)`;
    if (this.#unauthenticated() >= this.#maxUnauthenticated) {
      return `${this.#maxUnauthenticated} TCP clients not authenticated yet (maxUnauthenticatedTcpClients)`;
    }
    return undefined;
  }

  #unauthenticated(): number {
    let n = 0;
    for (const c of this.#tcpClients) if (!c.authenticated) n++;
    return n;
  }

  /** Opens the sockets and starts posting notifications. Fails (and leaves nothing open) if a socket cannot be made. */
  async listen(): Promise<void> {
    if (!this.#useUnix && !this.#useTcp) {
      this.#log.info("bridge disabled (IPCUseUNIXSocket and IPCUseTCPSocket are both off)");
      return;
    }
    this.#tapHooks();
    try {
      await mkdir(this.#ipcPath, { recursive: true, mode: 0o755 });
      const dir = await lstat(this.#ipcPath);
      if (!dir.isDirectory()) throw new ConfigError("IPCPath", `${this.#ipcPath} is not a directory`);
      // Anyone who can write the directory could swap the socket for their own.
      if (dir.mode & 0o002 && !(dir.mode & 0o1000))
        throw new ConfigError("IPCPath", `${this.#ipcPath} is writable by every user; use a directory only root can write`);
      if (this.#useUnix) await this.#listenUnix();
      if (this.#useTcp) await this.#listenTcp();
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  async #listenUnix(): Promise<void> {
    const path = join(this.#ipcPath, BRIDGE_FILES.socket);
    const existing = await lstat(path).catch(() => undefined);
    if (existing) {
      if (!existing.isSocket()) throw new ConfigError("IPCPath", `${path} exists and is not a socket; remove it`);
      if (await answers(path)) throw new BackupError("LOCKED", `another daemon answers on ${path}`);
      await unlink(path);
    }
    const gid = this.#group === undefined ? undefined : await resolveGroup(this.#group);
    const server = this.#makeServer(undefined);
    // bind() creates the socket file with the umask applied: make it private from the start, not after a chmod.
    const previous = process.umask(0o177);
    try {
      await this.#listenOn(server, () => server.listen(path));
    } finally {
      process.umask(previous);
    }
    this.#files.push(path);
    this.#socketPath = path;
    if (gid !== undefined) {
      await chown(path, process.getuid?.() ?? 0, gid);
      await chmod(path, 0o660);
    } else await chmod(path, 0o600);
  }

  async #listenTcp(): Promise<void> {
    const token = randomBytes(32).toString("hex");
    await writePrivateFile(this.tokenPath, `${token}\n`, 0o600);
    this.#files.push(this.tokenPath);
    this.#token = Buffer.from(token, "utf8");
    const server = this.#makeServer(this.#token);
    await this.#listenOn(server, () => server.listen(this.#tcpPort, this.#tcpAddress));
    const address = server.address();
    this.#boundPort = typeof address === "object" && address ? address.port : this.#tcpPort;
    const portFile = join(this.#ipcPath, BRIDGE_FILES.tcpPort);
    await writePrivateFile(portFile, `${this.#boundPort}\n`, 0o644);
    this.#files.push(portFile);
  }

  #listenOn(server: Server, start: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.once("listening", () => {
        server.off("error", reject);
        server.on("error", (err) => this.#log.error("bridge socket error", err));
        this.#servers.push(server);
        resolve();
      });
      start();
    });
  }

  #makeServer(token: Buffer | undefined): Server {
    // Each socket has its own budget, so TCP clients (even ones that never authenticate) cannot lock root out of
    // the UNIX socket; unauthenticated TCP clients get a small budget of their own and a short deadline.
    const tcp = token !== undefined;
    const group = tcp ? this.#tcpClients : this.#unixClients;
    return createServer((socket: Socket) => {
      const full = this.#limitReached(tcp);
      if (this.#closed || full) {
        this.#refused++;
        this.#log.debug(`bridge: refusing a client: ${full ?? "closing"}`);
        socket.destroy();
        return;
      }
      if (token) socket.setNoDelay(true);
      const connection = new BridgeConnection({
        socket,
        context: this.#context,
        logger: this.#log,
        limits: this.#limits,
        token,
        onClose: (c) => {
          this.#clients.delete(c);
          group.delete(c);
        },
      });
      this.#clients.add(connection);
      group.add(connection);
    });
  }

  #tapHooks(): void {
    const hooks = this.#runtime.hooks;
    hooks.uploadStarted.tap(PLUGIN_NAME, (u) => this.#notify({ kind: "uploadStarted", path: u.path, size: u.size }));
    hooks.uploaded.tap(PLUGIN_NAME, (u) => this.#notify({ kind: "uploaded", path: u.path, size: u.size, bytesUploaded: u.bytesUploaded }));
    hooks.failure.tap(PLUGIN_NAME, (f) =>
      this.#notify({
        kind: "failure",
        path: f.path,
        stage: f.stage,
        attempts: f.attempts,
        message: messageOf(f.error),
        retryAt: f.retryAt === undefined ? undefined : new Date(f.retryAt).toISOString(),
      }),
    );
    hooks.scan.tap(PLUGIN_NAME, (s) => {
      if (this.#closed) return;
      if (!s.done) this.#scanNumber++;
      const base = { reason: s.reason, roots: [...s.roots], number: this.#scanNumber };
      this.#notify(s.done ? { kind: "scanFinished", ...base, changed: s.changed } : { kind: "scanStarted", ...base });
      for (const w of [...this.#scanWaiters]) w();
    });
  }

  #notify(body: BridgeNotificationBody): void {
    if (this.#closed) return;
    let listening = false;
    for (const c of this.#clients) if (c.subscribed) listening = true;
    if (!listening) return;
    const notification = { ...body, seq: ++this.#seq, time: new Date().toISOString() };
    for (const c of [...this.#clients]) c.notify(notification);
  }

  /** Closes every client and socket and removes the socket, port and token files. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of [...this.#clients]) c.close();
    for (const w of [...this.#scanWaiters]) w();
    await Promise.all(this.#servers.map((s) => new Promise((r) => s.close(r))));
    for (const f of this.#files) await rm(f, { force: true }).catch(() => undefined);
  }
}
