import { setMaxListeners } from "node:events";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import B2 from "backblaze-b2";
import { StorageError, processSecrets } from "@rtbackup/core";
import { B2Failure, RETRYABLE, bodylessCode, toB2Failure } from "./B2Failure.js";
import type { ResolvedB2StorageOptions } from "./B2StorageOptions.js";
import type { B2StorageStats } from "./B2StorageStats.js";

/** What `b2_authorize_account` told us. `generation` goes up with every authorization. */
export interface AuthInfo {
  readonly generation: number;
  readonly accountId: string;
  readonly minimumPartSize: number;
  readonly recommendedPartSize: number;
  readonly capabilities: readonly string[];
  /** The bucket's name when the key is restricted to it (else it is looked up once). */
  readonly bucketName: string | undefined;
}

/** Per-call HTTP settings beyond the defaults. */
export interface RequestExtras {
  timeoutMs?: number;
  headers?: Record<string, string>;
  data?: Record<string, unknown>;
  method?: string;
}

/**
 * One authorized connection to B2 through `backblaze-b2`, with B2's retry rules applied on top of it: the library's
 * own retries are switched off per call; a 401 expired/bad token re-authorizes (one authorization at a time, by a
 * generation counter, however many calls saw the 401); 429 pauses every call until `Retry-After`; 408, 5xx and
 * broken connections back off exponentially with jitter. Failures leave as {@link StorageError}s whose cause is a
 * {@link B2Failure}, never the HTTP client's error (its config holds the Authorization header).
 */
export class B2Session {
  readonly b2: B2;
  readonly stats: B2StorageStats;
  readonly #o: ResolvedB2StorageOptions;
  readonly #closed = new AbortController();
  readonly #httpAgent = new HttpAgent({ keepAlive: true });
  readonly #httpsAgent = new HttpsAgent({ keepAlive: true });
  readonly #loopback: boolean;
  #auth: AuthInfo | undefined;
  #authorizing: Promise<AuthInfo> | undefined;
  #generation = 0;
  #pausedUntil = 0;

  constructor(options: ResolvedB2StorageOptions, stats: B2StorageStats) {
    this.#o = options;
    this.stats = stats;
    // A server may echo the key (HTTP Basic of keyId:applicationKey) or a token in an error body: every message
    // that leaves the process is redacted against these.
    processSecrets.add(options.keyId, options.applicationKey);
    // The library installs this client's axios instance in a module global; every call below passes its own
    // settings (timeouts, agents, no retries), so another B2 instance in the process cannot change them.
    this.b2 = new B2({ applicationKeyId: options.keyId, applicationKey: options.applicationKey, retry: { retries: 0 } });
    // Every call in flight listens on the close signal; many concurrent calls are normal, not a leak.
    setMaxListeners(0, this.#closed.signal);
    this.#loopback = /^https?:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])[:/]/.test(options.authorizeUrl);
  }

  /** Aborted when the backend closes. */
  get signal(): AbortSignal {
    return this.#closed.signal;
  }

  /** Settings for one call, passed as the library's `axiosOverride` (merged last, so they win). */
  request(extras: RequestExtras = {}): Record<string, unknown> {
    const out: Record<string, unknown> = {
      timeout: extras.timeoutMs ?? this.#o.requestTimeoutMs,
      httpAgent: this.#httpAgent,
      httpsAgent: this.#httpsAgent,
      signal: this.#closed.signal,
      maxRedirects: 0,
      decompress: false,
      "axios-retry": { retries: 0 },
    };
    if (this.#loopback) out["proxy"] = false;
    if (extras.headers) out["headers"] = extras.headers;
    if (extras.data) out["data"] = extras.data;
    if (extras.method) out["method"] = extras.method;
    return out;
  }

  /** Counts a call in the stats. */
  count(api: string): void {
    this.stats.calls[api] = (this.stats.calls[api] ?? 0) + 1;
  }

  /** The current authorization, authorizing first if needed. */
  async auth(): Promise<AuthInfo> {
    this.#throwIfClosed();
    return this.#auth ?? this.reauthorize(-1);
  }

  /** Authorizes again unless someone already did since `seenGeneration`; concurrent callers share one call. */
  async reauthorize(seenGeneration: number): Promise<AuthInfo> {
    if (this.#auth && this.#auth.generation !== seenGeneration) return this.#auth;
    if (!this.#authorizing) {
      const pending = this.#authorize();
      this.#authorizing = pending;
      pending.then(
        () => (this.#authorizing = undefined),
        () => (this.#authorizing = undefined),
      );
    }
    return this.#authorizing;
  }

  /**
   * Runs one API call with B2's retry rules. `tolerate` turns an expected failure (404, file_not_present) into
   * `undefined` instead of an error. `key` names the object in errors.
   */
  async call(
    api: string,
    send: (auth: AuthInfo) => Promise<B2.Response>,
    options: { tolerate?: (failure: B2Failure) => boolean; key?: string } = {},
  ): Promise<B2.Response | undefined> {
    let bodyless401 = 0;
    for (let attempt = 1; ; attempt++) {
      const auth = await this.auth();
      await this.gate();
      this.count(api);
      try {
        return await send(auth);
      } catch (err) {
        let failure = await toB2Failure(api, err);
        if (failure.kind === "auth" && failure.b2Code === bodylessCode(401) && ++bodyless401 > 1) {
          failure = new B2Failure(api, "unauthorized", 401, failure.b2Code, "refused again after a fresh authorization");
        }
        if (options.tolerate?.(failure)) return undefined;
        await this.recover(failure, attempt, { generation: auth.generation, ...(options.key === undefined ? {} : { key: options.key }) });
      }
    }
  }

  /**
   * Decides what to do after a failed attempt: throws a StorageError when the failure is fatal or attempts are
   * used up; otherwise re-authorizes (account token), or returns at once (an upload token: the caller gets a new
   * upload URL), or waits (Retry-After or backoff) and returns so the caller tries again.
   */
  async recover(failure: B2Failure, attempt: number, context: { generation?: number; key?: string; uploadToken?: boolean }): Promise<void> {
    if (failure.kind === "aborted" || this.#closed.signal.aborted) throw this.closedError();
    if (!RETRYABLE.has(failure.kind) || attempt >= this.#o.maxAttempts) throw this.storageError(failure, attempt, context.key);
    this.stats.retries[failure.kind] += 1;
    this.#o.logger?.debug(`${failure.message}; retrying (attempt ${attempt + 1} of ${this.#o.maxAttempts})`);
    if (failure.kind === "auth") {
      if (!context.uploadToken) await this.reauthorize(context.generation ?? -1);
      return;
    }
    if (failure.retryAfterMs !== undefined && (failure.kind === "throttled" || failure.kind === "server")) {
      // Retry-After speaks for the account, not one call: every call waits until then.
      this.#pausedUntil = Math.max(this.#pausedUntil, Date.now() + failure.retryAfterMs);
      const started = Date.now();
      await this.gate();
      this.stats.throttledMs += Date.now() - started;
      return;
    }
    const cap = Math.min(this.#o.backoffMaxMs, this.#o.backoffBaseMs * 2 ** (attempt - 1));
    const delay = Math.round(cap / 2 + (Math.random() * cap) / 2);
    this.stats.backoffMs += delay;
    await this.#sleep(delay);
  }

  /** Waits while a Retry-After pause is in force. */
  async gate(): Promise<void> {
    for (;;) {
      const wait = this.#pausedUntil - Date.now();
      if (wait <= 0) return;
      await this.#sleep(wait);
    }
  }

  /** The error for a failure that will not be retried. */
  storageError(failure: B2Failure, attempts: number, key?: string): StorageError {
    const after = attempts > 1 ? ` after ${attempts} attempts` : "";
    const what = key === undefined ? failure.api : `${failure.api} "${key}"`;
    let hint = "";
    if (failure.kind === "unauthorized") hint = " (the application key lacks a capability this needs)";
    if (failure.kind === "cap") hint = " (a B2 cap is exceeded or access is denied: raise the cap in the B2 account)";
    return new StorageError(failure.kind === "notFound" ? "STORAGE_NOT_FOUND" : "STORAGE_FAILED", `B2 ${what} failed${after}: ${failure.message}${hint}`, {
      cause: failure,
      transient: RETRYABLE.has(failure.kind),
      ...(key === undefined ? {} : { key }),
    });
  }

  /** The error for calls made after `close()`. */
  closedError(): StorageError {
    return new StorageError("STORAGE_FAILED", "the B2 backend is closed", { transient: false });
  }

  /** Aborts every call in progress and frees the connections. */
  close(): void {
    this.#closed.abort();
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }

  async #authorize(): Promise<AuthInfo> {
    const api = "b2_authorize_account";
    if (this.#auth) this.stats.reauthorizations += 1;
    for (let attempt = 1; ; attempt++) {
      await this.gate();
      this.count(api);
      let data: Record<string, unknown>;
      try {
        const res = await this.b2.authorize({ axiosOverride: { url: this.#o.authorizeUrl, ...this.request() } });
        data = res.data as Record<string, unknown>;
        processSecrets.addEphemeral(data["authorizationToken"]);
      } catch (err) {
        const failure = await toB2Failure(api, err);
        if (failure.kind === "auth" || failure.kind === "unauthorized") {
          throw new StorageError(
            "STORAGE_FAILED",
            `B2 refused the application key (${failure.b2Code}): check RemoteStorageKeyID and RemoteStorageApplicationKey`,
            { cause: failure, transient: false },
          );
        }
        await this.recover(failure, attempt, {});
        continue;
      }
      this.#auth = this.#authInfo(data);
      return this.#auth;
    }
  }

  #authInfo(data: Record<string, unknown>): AuthInfo {
    // v2 keeps these at the top level (v3 nests them under apiInfo.storageApi).
    const storage = ((data["apiInfo"] as Record<string, unknown> | undefined)?.["storageApi"] ?? data) as Record<string, unknown>;
    const allowed = (storage["allowed"] ?? storage) as Record<string, unknown>;
    const allowedBucket = typeof allowed["bucketId"] === "string" ? allowed["bucketId"] : null;
    if (allowedBucket !== null && allowedBucket !== this.#o.bucketId) {
      throw new StorageError("STORAGE_FAILED", "the application key is restricted to another bucket than RemoteStorageBucketID", {
        transient: false,
      });
    }
    const keyPrefix = typeof allowed["namePrefix"] === "string" ? allowed["namePrefix"] : null;
    if (keyPrefix !== null && !this.#o.namePrefix.startsWith(keyPrefix)) {
      throw new StorageError("STORAGE_FAILED", `the application key only allows names starting with "${keyPrefix}": set namePrefix to start with it`, {
        transient: false,
      });
    }
    return {
      generation: ++this.#generation,
      accountId: String(data["accountId"] ?? ""),
      minimumPartSize: Number(storage["absoluteMinimumPartSize"] ?? 5_000_000),
      recommendedPartSize: Number(storage["recommendedPartSize"] ?? 100_000_000),
      capabilities: Array.isArray(allowed["capabilities"]) ? (allowed["capabilities"] as string[]) : [],
      bucketName: allowedBucket !== null && typeof allowed["bucketName"] === "string" ? allowed["bucketName"] : undefined,
    };
  }

  async #sleep(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.#closed.signal });
    } catch {
      throw this.closedError();
    }
  }

  #throwIfClosed(): void {
    if (this.#closed.signal.aborted) throw this.closedError();
  }
}
