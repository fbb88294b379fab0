import { EventEmitter, setMaxListeners } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { decodeB2Name } from "../fileNames.js";
import { EmulatorApi, randomBucketId, type EmulatorContext } from "./EmulatorApi.js";
import { ALL_CAPABILITIES, EmulatorAuth, type B2Capability, type EmulatorKey } from "./EmulatorAuth.js";
import { EmulatorBucket } from "./EmulatorBucket.js";
import { ApiError, ClientAborted, drainBody, readParams, sendError, sendJson } from "./emulatorHttp.js";
import { injectFault } from "./injectFault.js";
import { EmulatorTransfers, type TransferNotes } from "./EmulatorTransfers.js";
import { FaultInjector, type FaultKind, type FaultOptions } from "./FaultInjector.js";
import { TRANSACTION_CLASSES, type B2ApiName, type TransactionClass } from "./transactionClasses.js";
import { routeOf, type Route } from "./emulatorRoutes.js";
import { countTransactions, maxOverlap, type TransactionCounts } from "./emulatorStats.js";

/** Options of {@link B2Emulator}. Everything is optional; credentials and ids are random by default. */
export interface B2EmulatorOptions {
  keyId?: string;
  applicationKey?: string;
  /** Capabilities of the default key (default: all). */
  capabilities?: readonly B2Capability[];
  /** Whether the default key is restricted to the bucket (default true; `false` makes clients call list_buckets). */
  restrictToBucket?: boolean;
  bucketId?: string;
  bucketName?: string;
  /** `absoluteMinimumPartSize` (default 5,000,000, as on B2). Tests lower it to exercise large files cheaply. */
  absoluteMinimumPartSize?: number;
  /** `recommendedPartSize` (default 100,000,000). */
  recommendedPartSize?: number;
  /** Lifetime of account and upload tokens (default 24 h). */
  tokenLifetimeMs?: number;
  /** Random fault injection (default none). */
  faults?: FaultOptions;
  /** Seed of the fault draw (default 1), so a failing run can be replayed. */
  seed?: number;
  /** Fixed extra latency per call, e.g. to make parallel part uploads overlap visibly. */
  latencyMs?: Partial<Record<B2ApiName, number>>;
  /** Largest body accepted in memory (default 1 GiB). */
  maxBodyBytes?: number;
}

/** One call the emulator served. Never holds a token or a key. */
export interface EmulatorLogEntry {
  seq: number;
  api: B2ApiName;
  txClass: TransactionClass;
  method: string;
  /** HTTP status sent, or 0 when the connection was dropped before an answer. */
  status: number;
  /** B2 error code of an error answer. */
  code?: string;
  fault: FaultKind | null;
  /** Transactions billed (list calls returning over 1,000 results count several). */
  billed: number;
  startedAt: number;
  endedAt: number;
  fileName?: string;
  fileId?: string;
  partNumber?: number;
  bytes?: number;
  /** For upload_part: parts of the same large file being received at that moment, this one included. */
  concurrentParts?: number;
}

/** A visible file as the emulator holds it. */
export interface EmulatorFile {
  fileName: string;
  fileId: string;
  size: number;
  contentSha1: string | null;
  fileInfo: Record<string, string>;
  data: Buffer;
}

/** An unfinished large file as the emulator holds it. */
export interface EmulatorUnfinishedFile {
  fileName: string;
  fileId: string;
  parts: number;
  fileInfo: Record<string, string>;
}

/**
 * An emulator of the Backblaze B2 native API (v2, and v3's authorize) on 127.0.0.1, for tests and benchmarks:
 * authorize, upload URLs, uploads (SHA-1 checked, `hex_digits_at_end` supported), large files (minimum part size,
 * at least two parts, parts' SHA-1), listings, downloads with `Range` and HEAD, hide, delete, cancel — with B2's
 * file name rules and token expiry, fault injection, and a log counting calls by transaction class. Files live in
 * memory. Emits `request` with each {@link EmulatorLogEntry} once the call is answered.
 */
export class B2Emulator extends EventEmitter {
  /** The default key's credentials. */
  readonly credentials: { readonly keyId: string; readonly applicationKey: string };
  readonly bucketId: string;
  readonly bucketName: string;
  /** Protocol rules a client broke (two uploads on one URL, a dead URL reused, a wrong large_file_sha1). */
  readonly violations: string[] = [];
  readonly #auth: EmulatorAuth;
  readonly #buckets = new Map<string, EmulatorBucket>();
  readonly #faults: FaultInjector;
  readonly #latency = new Map<B2ApiName, number>();
  readonly #log: EmulatorLogEntry[] = [];
  readonly #api: EmulatorApi;
  readonly #transfers: EmulatorTransfers;
  readonly #sockets = new Set<Socket>();
  readonly #stopping = new AbortController();
  #server: Server | undefined;
  #baseUrl = "";
  #seq = 0;
  #fileSeq = 0;
  #pending = 0;

  constructor(options: B2EmulatorOptions = {}) {
    super();
    this.#auth = new EmulatorAuth(options.tokenLifetimeMs ?? 24 * 3600 * 1000);
    this.bucketId = options.bucketId ?? randomBucketId();
    this.bucketName = options.bucketName ?? `emu-bucket-${randomBytes(4).toString("hex")}`;
    this.#buckets.set(this.bucketId, new EmulatorBucket(this.bucketId, this.bucketName));
    this.credentials = this.addKey({
      ...(options.keyId === undefined ? {} : { keyId: options.keyId }),
      ...(options.applicationKey === undefined ? {} : { applicationKey: options.applicationKey }),
      capabilities: options.capabilities ?? ALL_CAPABILITIES,
      bucketRestricted: options.restrictToBucket ?? true,
    });
    // Every delayed answer listens on the stop signal.
    setMaxListeners(0, this.#stopping.signal);
    this.#faults = new FaultInjector(options.seed ?? 1);
    this.#faults.configure(options.faults);
    for (const [api, ms] of Object.entries(options.latencyMs ?? {})) this.#latency.set(api as B2ApiName, ms);
    const ctx: EmulatorContext = {
      auth: this.#auth,
      buckets: this.#buckets,
      baseUrl: () => this.#baseUrl,
      minimumPartSize: options.absoluteMinimumPartSize ?? 5_000_000,
      recommendedPartSize: options.recommendedPartSize ?? 100_000_000,
      violation: (message) => this.violations.push(message),
      newFileId: (bucketId) => `4_z${bucketId}_f${(++this.#fileSeq).toString(16).padStart(12, "0")}`,
      latency: async (api) => {
        const ms = this.#latency.get(api);
        if (ms) await sleep(ms, undefined, { signal: this.#stopping.signal });
      },
    };
    this.#api = new EmulatorApi(ctx);
    this.#transfers = new EmulatorTransfers(ctx, this.#api, options.maxBodyBytes ?? 1024 ** 3);
  }

  /** Adds another application key (e.g. one without deleteFiles) and returns its credentials. */
  addKey(spec: { keyId?: string; applicationKey?: string; capabilities?: readonly B2Capability[]; bucketRestricted?: boolean; namePrefix?: string | null }): {
    keyId: string;
    applicationKey: string;
  } {
    const key: EmulatorKey = {
      keyId: spec.keyId ?? `emu${randomBytes(10).toString("hex")}`,
      applicationKey: spec.applicationKey ?? `K${randomBytes(20).toString("base64url")}`,
      capabilities: spec.capabilities ?? ALL_CAPABILITIES,
      bucketId: spec.bucketRestricted === false ? null : this.bucketId,
      namePrefix: spec.namePrefix ?? null,
    };
    this.#auth.addKey(key);
    return { keyId: key.keyId, applicationKey: key.applicationKey };
  }

  /** Starts listening on an ephemeral port of 127.0.0.1; resolves to the base URL. */
  async start(): Promise<string> {
    if (this.#server) return this.#baseUrl;
    const server = createServer((req, res) => void this.#serve(req, res));
    server.keepAliveTimeout = 60_000;
    server.on("connection", (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (!address || typeof address === "string") throw new Error("emulator has no TCP address");
    this.#server = server;
    this.#baseUrl = `http://127.0.0.1:${address.port}`;
    return this.#baseUrl;
  }

  /** Stops listening, drops every connection and pending delayed answer. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    this.#stopping.abort();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  /** Base URL (after `start`). */
  get url(): string {
    return this.#baseUrl;
  }

  /** The `b2_authorize_account` URL (v2, which `backblaze-b2` speaks). */
  get authorizeUrl(): string {
    return `${this.#baseUrl}/b2api/v2/b2_authorize_account`;
  }

  /** Replaces random fault injection (`undefined` turns it off). */
  setFaults(options: FaultOptions | undefined): void {
    this.#faults.configure(options);
  }

  /** Makes the next `times` calls of `api` fail with `kind`. */
  failNext(api: B2ApiName, kind: FaultKind, times = 1, extra: { slowMs?: number; retryAfterSeconds?: number } = {}): void {
    this.#faults.failNext(api, kind, times, extra);
  }

  /** Sets a fixed extra latency for every call of `api` (0 removes it). */
  setLatency(api: B2ApiName, ms: number): void {
    if (ms > 0) this.#latency.set(api, ms);
    else this.#latency.delete(api);
  }

  /** Makes every account and upload token issued so far expire now. */
  expireAllTokens(): void {
    this.#auth.expireAll();
  }

  /** Token lifetime for tokens issued from now on. */
  setTokenLifetime(ms: number): void {
    this.#auth.tokenLifetimeMs = ms;
  }

  /** Every call served so far, in order of arrival. */
  get log(): readonly EmulatorLogEntry[] {
    return this.#log;
  }

  /** Calls and billed transactions per class and per API, for log entries with `seq > sinceSeq`. */
  counts(sinceSeq = 0): TransactionCounts {
    return countTransactions(this.#log.filter((e) => e.seq > sinceSeq));
  }

  /** Calls being served right now (a `slow` call keeps going after its client gave up). */
  get pending(): number {
    return this.#pending;
  }

  /** The sequence number of the last call (pass it to `counts` to count what comes after). */
  get lastSeq(): number {
    return this.#seq;
  }

  /** Most calls of `api` in progress at one time (from the log's start and end times), optionally filtered. */
  maxConcurrency(api: B2ApiName, filter: (e: EmulatorLogEntry) => boolean = () => true): number {
    return maxOverlap(this.#log.filter((e) => e.api === api && filter(e)));
  }

  /** Visible files of the default bucket, in listing order. */
  files(): EmulatorFile[] {
    return this.#buckets
      .get(this.bucketId)!
      .visibleFiles()
      .map((v) => ({
        fileName: v.fileName,
        fileId: v.fileId,
        size: v.data.length,
        contentSha1: v.contentSha1,
        fileInfo: { ...v.fileInfo },
        data: v.data,
      }));
  }

  /** Unfinished large files of the default bucket. */
  unfinishedLargeFiles(): EmulatorUnfinishedFile[] {
    return this.#buckets
      .get(this.bucketId)!
      .unfinished("")
      .map((v) => ({
        fileName: v.fileName,
        fileId: v.fileId,
        parts: v.parts?.size ?? 0,
        fileInfo: { ...v.fileInfo },
      }));
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.#baseUrl);
    const route = routeOf(req.method ?? "GET", url);
    if (!route) {
      await drainBody(req);
      sendError(res, new ApiError(404, "not_found", "no such API"));
      return;
    }
    this.#pending += 1;
    const entry: EmulatorLogEntry = {
      seq: ++this.#seq,
      api: route.api,
      txClass: TRANSACTION_CLASSES[route.api],
      method: req.method ?? "GET",
      status: 0,
      fault: null,
      billed: 1,
      startedAt: Date.now(),
      endedAt: 0,
    };
    this.#log.push(entry);
    const notes: TransferNotes = {};
    const named = route.kind === "download" && route.api === "b2_download_file_by_name" ? route.fileName : req.headers["x-bz-file-name"];
    if (typeof named === "string") {
      try {
        notes.fileName = decodeB2Name(named);
      } catch {
        // A malformed name is refused by the handler.
      }
    }
    try {
      const latency = this.#latency.get(route.api);
      if (latency && route.kind !== "upload") await sleep(latency, undefined, { signal: this.#stopping.signal });
      const fault = this.#faults.pick(route.api);
      let resetDownload = false;
      if (fault) {
        entry.fault = fault.kind;
        if (fault.kind === "reset" && route.kind === "download") resetDownload = true;
        else if (await injectFault(fault, route, req, this.#auth, this.#stopping.signal)) return;
      }
      await this.#dispatch(route, url, req, res, entry, notes, resetDownload);
    } catch (err) {
      if (err instanceof ApiError) {
        entry.code = err.code;
        sendError(res, err);
      } else if (!(err instanceof ClientAborted) && !this.#stopping.signal.aborted) {
        sendError(res, new ApiError(500, "internal_error", err instanceof Error ? err.message : String(err)));
      } else {
        req.socket.destroy();
      }
    } finally {
      Object.assign(entry, notes);
      entry.status = res.headersSent ? res.statusCode : 0;
      entry.endedAt = Date.now();
      this.#pending -= 1;
      this.emit("request", entry);
    }
  }

  async #dispatch(
    route: Route,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
    entry: EmulatorLogEntry,
    notes: TransferNotes,
    resetDownload: boolean,
  ): Promise<void> {
    switch (route.kind) {
      case "authorize": {
        await drainBody(req);
        const { token, key } = this.#auth.authorize(req.headers.authorization);
        sendJson(res, 200, this.#api.authorizeBody(token, key, route.version));
        return;
      }
      case "json": {
        const params = await readParams(req, url);
        const result = this.#api.call(route.api, params, req.headers.authorization);
        entry.billed = result.billed ?? 1;
        if (result.fileName !== undefined) notes.fileName = result.fileName;
        if (result.fileId !== undefined) notes.fileId = result.fileId;
        sendJson(res, 200, result.body);
        return;
      }
      case "upload": {
        const kind = route.api === "b2_upload_file" ? "file" : "part";
        const record = this.#auth.uploadUrl(route.urlId, kind, req.headers.authorization);
        const body = kind === "file" ? await this.#transfers.uploadFile(req, record, notes) : await this.#transfers.uploadPart(req, record, notes);
        sendJson(res, 200, body);
        return;
      }
      case "download": {
        await drainBody(req);
        const token = req.headers.authorization ?? url.searchParams.get("Authorization") ?? undefined;
        const version =
          route.api === "b2_download_file_by_name"
            ? this.#api.versionByName(token, route.bucketName, route.fileName)
            : this.#api.versionById(token, url.searchParams.get("fileId") ?? "");
        this.#transfers.download(req, res, version, resetDownload, notes);
        return;
      }
    }
  }
}
