import { EventEmitter, setMaxListeners } from "node:events";
import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { EmulatorApi, randomBucketId, type EmulatorContext } from "./EmulatorApi.js";
import { ALL_CAPABILITIES, EmulatorAuth, type B2Capability, type EmulatorKey } from "./EmulatorAuth.js";
import { EmulatorBucket } from "./EmulatorBucket.js";
import { EmulatorDispatcher } from "./EmulatorDispatcher.js";
import { EmulatorDownloads } from "./EmulatorDownloads.js";
import { EmulatorUploads } from "./EmulatorUploads.js";
import { FaultInjector, type FaultKind, type FaultOptions } from "./FaultInjector.js";
import type { EmulatorLogEntry } from "./emulatorLog.js";
import type { B2ApiName } from "./transactionClasses.js";
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
  readonly #dispatcher: EmulatorDispatcher;
  readonly #sockets = new Set<Socket>();
  readonly #stopping = new AbortController();
  #server: Server | undefined;
  #baseUrl = "";
  #fileSeq = 0;

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
    const api = new EmulatorApi(ctx);
    this.#dispatcher = new EmulatorDispatcher({
      auth: this.#auth,
      api,
      uploads: new EmulatorUploads(ctx, api, options.maxBodyBytes ?? 1024 ** 3),
      downloads: new EmulatorDownloads(ctx, api),
      faults: this.#faults,
      latency: this.#latency,
      stopping: this.#stopping.signal,
      baseUrl: () => this.#baseUrl,
      answered: (entry) => this.emit("request", entry),
    });
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
    const server = createServer((req, res) => void this.#dispatcher.serve(req, res));
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
    return this.#dispatcher.log;
  }

  /** Calls and billed transactions per class and per API, for log entries with `seq > sinceSeq`. */
  counts(sinceSeq = 0): TransactionCounts {
    return countTransactions(this.#dispatcher.log.filter((e) => e.seq > sinceSeq));
  }

  /** Calls being served right now (a `slow` call keeps going after its client gave up). */
  get pending(): number {
    return this.#dispatcher.pending;
  }

  /** The sequence number of the last call (pass it to `counts` to count what comes after). */
  get lastSeq(): number {
    return this.#dispatcher.lastSeq;
  }

  /** Most calls of `api` in progress at one time (from the log's start and end times), optionally filtered. */
  maxConcurrency(api: B2ApiName, filter: (e: EmulatorLogEntry) => boolean = () => true): number {
    return maxOverlap(this.#dispatcher.log.filter((e) => e.api === api && filter(e)));
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
}
