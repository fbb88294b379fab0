import { hostname } from "node:os";
import {
  BadValue,
  booleanKind,
  checkedKind,
  enumKind,
  integerKind,
  loggerKind,
  patternKind,
  PluginOptions,
  type Logger,
  type OptionKind,
} from "@rtbackup/core";
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

/** Every option of {@link B2Storage}. */
export const B2_STORAGE_OPTIONS: readonly (keyof B2StorageOptions)[] = [
  "keyId",
  "applicationKey",
  "bucketId",
  "largeFileThreshold",
  "largeFileChunkSize",
  "namePrefix",
  "deleteMode",
  "partConcurrency",
  "listPageSize",
  "requestTimeoutMs",
  "maxAttempts",
  "backoffBaseMs",
  "backoffMaxMs",
  "authorizeUrl",
  "owner",
  "cancelStaleLargeFiles",
  "logger",
];

/** A credential: not empty; an ID has no spaces or colons (they would break the Basic authorization). */
function credentialKind(what: string, idLike: boolean): OptionKind<string> {
  return {
    fromValue(value) {
      if (typeof value !== "string" || value.trim() === "") throw new BadValue(`${what} (a non-empty string)`);
      if (idLike && /[\s:]/.test(value)) throw new BadValue(`${what} without spaces or colons`);
      return value;
    },
  };
}

const namePrefixKind: OptionKind<string> = {
  fromValue(value) {
    if (typeof value !== "string") throw new BadValue("a string");
    const problem = value === "" ? undefined : b2NameProblem(`${value}x`);
    if (problem) throw new BadValue(`a valid B2 name prefix (${problem})`);
    return value;
  },
};

const authorizeUrlKind = patternKind(/^https?:\/\/[^/]+\/\S*b2_authorize_account$/, "an http(s) URL ending in b2_authorize_account");
const ownerKind = checkedKind<string>("a non-empty string of at most 200 characters", (v) => typeof v === "string" && v !== "" && v.length <= 200);

/**
 * Validates options with core's {@link PluginOptions}; a bad value throws a {@link ConfigError} naming the option
 * (through `where`) and what was expected. Credentials are never echoed.
 */
export function parseB2StorageOptions(raw: unknown, where: OptionNamer = defaultNamer): ResolvedB2StorageOptions {
  const o = PluginOptions.read("B2Storage", raw, B2_STORAGE_OPTIONS, {
    where: where as (option: string) => string,
    secret: ["keyId", "applicationKey", "bucketId"],
  });
  const int = (name: keyof B2StorageOptions, fallback: number, min: number, max: number): number => o.get(name, integerKind(min, max), fallback);
  const backoffBaseMs = int("backoffBaseMs", 500, 1, 600_000);
  return {
    keyId: o.required("keyId", credentialKind("an application key ID", true), "an application key ID"),
    applicationKey: o.required("applicationKey", credentialKind("an application key", false), "an application key"),
    bucketId: o.required("bucketId", credentialKind("a bucket ID", true), "a bucket ID"),
    largeFileThreshold: int("largeFileThreshold", 10_485_760, 1, MAX_SINGLE_UPLOAD),
    largeFileChunkSize: int("largeFileChunkSize", 5_242_880, 1, MAX_SINGLE_UPLOAD),
    namePrefix: o.get("namePrefix", namePrefixKind, ""),
    deleteMode: o.get("deleteMode", enumKind(["delete", "hide"] as const), "delete"),
    partConcurrency: int("partConcurrency", 4, 1, 64),
    listPageSize: int("listPageSize", 1000, 1, 10_000),
    requestTimeoutMs: int("requestTimeoutMs", 120_000, 1, 24 * 3600 * 1000),
    maxAttempts: int("maxAttempts", 8, 1, 100),
    backoffBaseMs,
    backoffMaxMs: int("backoffMaxMs", Math.max(30_000, backoffBaseMs), backoffBaseMs, 3_600_000),
    authorizeUrl: o.get("authorizeUrl", authorizeUrlKind, B2_AUTHORIZE_URL),
    owner: o.get("owner", ownerKind, hostname()),
    cancelStaleLargeFiles: o.get("cancelStaleLargeFiles", booleanKind, true),
    logger: o.get("logger", loggerKind),
  };
}
