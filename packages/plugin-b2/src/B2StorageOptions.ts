import { hostname } from "node:os";
import { ConfigError, type Logger } from "@rtbackup/core";
import { b2NameProblem } from "./fileNames.js";

/** The real authorize endpoint (v2: the API version `backblaze-b2` speaks). */
export const B2_AUTHORIZE_URL = "https://api.backblazeb2.com/b2api/v2/b2_authorize_account";

/** Largest single upload B2 accepts (bytes). */
export const MAX_SINGLE_UPLOAD = 5_000_000_000;

/** Options of {@link B2Storage}. */
export interface B2StorageOptions {
  /** Application key ID (RemoteStorageKeyID). */
  keyId: string;
  /** Application key (RemoteStorageApplicationKey). Never logged. */
  applicationKey: string;
  /** Bucket ID (RemoteStorageBucketID). */
  bucketId: string;
  /** Objects larger than this use the large-file API (B2LargeFileThreshold). Default 10,485,760; at most 5 GB. */
  largeFileThreshold?: number;
  /** Part size of large files (B2LargeFileChunkSize); raised to the account's minimum part size. Default 5,242,880. */
  largeFileChunkSize?: number;
  /** Prefix put before every key in the bucket (default none). */
  namePrefix?: string;
  /** `delete` removes every version of an object (default); `hide` only hides it (needs no deleteFiles capability). */
  deleteMode?: "delete" | "hide";
  /** Parts of one large file uploaded at once, each on its own upload URL. Default 4. */
  partConcurrency?: number;
  /** Names per `b2_list_file_names` call (1–10,000; over 1,000 bills as several transactions). Default 1,000. */
  listPageSize?: number;
  /** Time allowed for an answer to a call (uploads get extra time per byte). Default 120,000 ms. */
  requestTimeoutMs?: number;
  /** Attempts per call before giving up (re-authorizations and retries count). Default 8. */
  maxAttempts?: number;
  /** First backoff delay; doubles per attempt, with jitter. Default 500 ms. */
  backoffBaseMs?: number;
  /** Longest backoff delay. Default 30,000 ms. */
  backoffMaxMs?: number;
  /** The `b2_authorize_account` URL (tests point it at the emulator). */
  authorizeUrl?: string;
  /** Tag put on large files this host starts, so stale ones can be cancelled at start. Default: the host name. */
  owner?: string;
  /** Cancel this owner's unfinished large files (left by a crash) when the backend opens. Default true. */
  cancelStaleLargeFiles?: boolean;
  /** Where to log (default: nowhere). */
  logger?: Logger;
}

/** {@link B2StorageOptions} with every default filled in. */
export interface ResolvedB2StorageOptions {
  keyId: string;
  applicationKey: string;
  bucketId: string;
  largeFileThreshold: number;
  largeFileChunkSize: number;
  namePrefix: string;
  deleteMode: "delete" | "hide";
  partConcurrency: number;
  listPageSize: number;
  requestTimeoutMs: number;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  authorizeUrl: string;
  owner: string;
  cancelStaleLargeFiles: boolean;
  logger: Logger | undefined;
}

/** Names an option in a ConfigError (`B2Storage.options.partConcurrency`, or an XML element for the plugin). */
export type OptionNamer = (option: keyof B2StorageOptions) => string;

const defaultNamer: OptionNamer = (option) => `B2Storage.options.${option}`;

/** Validates options; a bad value throws a {@link ConfigError} naming the option and what was expected. */
export function parseB2StorageOptions(raw: unknown, where: OptionNamer = defaultNamer): ResolvedB2StorageOptions {
  if (typeof raw !== "object" || raw === null) throw new ConfigError(where("keyId"), "expected an options object with keyId, applicationKey and bucketId");
  const o = raw as Record<string, unknown>;
  const credential = (name: "keyId" | "applicationKey" | "bucketId", what: string): string => {
    const v = o[name];
    // The value itself is never echoed: it may be a secret.
    if (typeof v !== "string" || v.trim() === "") throw new ConfigError(where(name), `expected ${what} (a non-empty string)`);
    if (/[\s:]/.test(v) && name !== "applicationKey") throw new ConfigError(where(name), `expected ${what} without spaces or colons`);
    return v;
  };
  const int = (name: keyof B2StorageOptions, fallback: number, min: number, max: number): number => {
    const v = o[name];
    if (v === undefined) return fallback;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      throw new ConfigError(where(name), `expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const namePrefix = o["namePrefix"] ?? "";
  if (typeof namePrefix !== "string") throw new ConfigError(where("namePrefix"), "expected a string");
  if (namePrefix !== "") {
    const problem = b2NameProblem(`${namePrefix}x`);
    if (problem) throw new ConfigError(where("namePrefix"), `expected a valid B2 name prefix (${problem})`);
  }
  const deleteMode = o["deleteMode"] ?? "delete";
  if (deleteMode !== "delete" && deleteMode !== "hide") throw new ConfigError(where("deleteMode"), 'expected "delete" or "hide"');
  const authorizeUrl = o["authorizeUrl"] ?? B2_AUTHORIZE_URL;
  if (typeof authorizeUrl !== "string" || !/^https?:\/\/[^/]+\/\S*b2_authorize_account$/.test(authorizeUrl)) {
    throw new ConfigError(where("authorizeUrl"), "expected an http(s) URL ending in b2_authorize_account");
  }
  const owner = o["owner"] ?? hostname();
  if (typeof owner !== "string" || owner === "" || owner.length > 200) throw new ConfigError(where("owner"), "expected a non-empty string");
  const cancelStale = o["cancelStaleLargeFiles"] ?? true;
  if (typeof cancelStale !== "boolean") throw new ConfigError(where("cancelStaleLargeFiles"), "expected true or false");
  const logger = o["logger"];
  if (logger !== undefined && (typeof logger !== "object" || logger === null || typeof (logger as Logger).warn !== "function")) {
    throw new ConfigError(where("logger"), "expected a Logger (engine.getLogger(name))");
  }
  const backoffBaseMs = int("backoffBaseMs", 500, 1, 600_000);
  const resolved: ResolvedB2StorageOptions = {
    keyId: credential("keyId", "an application key ID"),
    applicationKey: credential("applicationKey", "an application key"),
    bucketId: credential("bucketId", "a bucket ID"),
    largeFileThreshold: int("largeFileThreshold", 10_485_760, 1, MAX_SINGLE_UPLOAD),
    largeFileChunkSize: int("largeFileChunkSize", 5_242_880, 1, MAX_SINGLE_UPLOAD),
    namePrefix,
    deleteMode,
    partConcurrency: int("partConcurrency", 4, 1, 64),
    listPageSize: int("listPageSize", 1000, 1, 10_000),
    requestTimeoutMs: int("requestTimeoutMs", 120_000, 1, 24 * 3600 * 1000),
    maxAttempts: int("maxAttempts", 8, 1, 100),
    backoffBaseMs,
    backoffMaxMs: int("backoffMaxMs", Math.max(30_000, backoffBaseMs), backoffBaseMs, 3_600_000),
    authorizeUrl,
    owner,
    cancelStaleLargeFiles: cancelStale,
    logger: logger as Logger | undefined,
  };
  return resolved;
}
