import { ConfigError, type Logger, type Parameters } from "@rtbackup/core";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Explicit static credentials. */
export interface S3StaticCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** A function resolving credentials, such as the AWS SDK's `fromIni()` or `fromTemporaryCredentials()`. */
export type S3CredentialProvider = () => Promise<S3StaticCredentials & { expiration?: Date }>;

/** Static credentials, or a provider function. */
export type S3Credentials = S3StaticCredentials | S3CredentialProvider;

/** Options of {@link S3Storage} and of `S3StoragePlugin` when it is given them explicitly. */
export interface S3StorageOptions {
  /** Bucket name. Required. */
  bucket: string;
  /** Endpoint URL of an S3-compatible store (`https://s3.us-west-004.backblazeb2.com`). Default: AWS S3. */
  endpoint?: string;
  /** Signing region. Default `us-east-1`. */
  region?: string;
  /** Key prefix inside the bucket; a `/` is appended when missing. Default none. */
  prefix?: string;
  /** Credentials. Default: the AWS SDK's provider chain (environment, shared files, instance/container roles). */
  credentials?: S3Credentials;
  /** Path-style URLs (`endpoint/bucket/key`). Default `true` with a custom endpoint, `false` for AWS. */
  forcePathStyle?: boolean;
  /** `x-amz-storage-class` for new objects (`STANDARD_IA`, ...). Default: the bucket's default. */
  storageClass?: string;
  /** Multipart part size in bytes, at least 5 MiB. Default 16 MiB (grown when an object would need >10,000 parts). */
  partSize?: number;
  /** Objects larger than this go multipart; smaller ones are one PutObject with Content-MD5. Default `partSize`. */
  multipartThreshold?: number;
  /** Parts of one multipart upload in flight at once. Default 4. */
  concurrency?: number;
  /** Attempts per HTTP request by the SDK's standard retry strategy. Default 5. */
  maxAttempts?: number;
  /** Attempts of a whole operation (a put reopens its body each time) after the SDK gave up. Default 3. */
  retries?: number;
  /** First delay between whole-operation attempts, in ms, doubled each time (with jitter). Default 500. */
  retryBaseDelay?: number;
  /** MaxKeys of each ListObjectsV2 page (1-1000). Default 1000. */
  listPageSize?: number;
  /** Socket idle timeout per request, in ms. Default 120000. */
  requestTimeout?: number;
  /** TCP/TLS connect timeout, in ms. Default 10000. */
  connectionTimeout?: number;
  /** Send Content-MD5 on single-request puts (the store then rejects a corrupted body). Default `true`. */
  contentMd5?: boolean;
  /** Abort incomplete multipart uploads under `prefix` + `staleUploadPrefix` before the first put. Default `true`. */
  abortStaleUploads?: boolean;
  /**
   * Narrows the stale-upload sweep to keys under this (relative to `prefix`), e.g. the repository's own prefix
   * when several hosts share a bucket. Default none (everything under `prefix`).
   */
  staleUploadPrefix?: string;
  /** Where this storage logs. Default: nowhere. */
  logger?: Logger;
}

/** {@link S3StorageOptions} with defaults applied and every value checked. */
export interface ResolvedS3StorageOptions {
  bucket: string;
  endpoint: string | undefined;
  region: string;
  prefix: string;
  credentials: S3Credentials | undefined;
  forcePathStyle: boolean;
  storageClass: string | undefined;
  partSize: number;
  multipartThreshold: number;
  concurrency: number;
  maxAttempts: number;
  retries: number;
  retryBaseDelay: number;
  listPageSize: number;
  requestTimeout: number;
  connectionTimeout: number;
  contentMd5: boolean;
  abortStaleUploads: boolean;
  staleUploadPrefix: string;
  logger: Logger | undefined;
}

const KNOWN = new Set<string>([
  "bucket",
  "endpoint",
  "region",
  "prefix",
  "credentials",
  "forcePathStyle",
  "storageClass",
  "partSize",
  "multipartThreshold",
  "concurrency",
  "maxAttempts",
  "retries",
  "retryBaseDelay",
  "listPageSize",
  "requestTimeout",
  "connectionTimeout",
  "contentMd5",
  "abortStaleUploads",
  "staleUploadPrefix",
  "logger",
]);

/** Names an option in an error message: `S3StoragePlugin options.bucket`, or an XML element. */
export type WhereOf = (option: string) => string;

/**
 * Validates options given in code or a JS/JSON/YAML config. Every bad value throws a `ConfigError` that names the
 * option (through `whereOf`) and what was expected. Credentials are never echoed.
 */
export function parseS3StorageOptions(value: unknown, whereOf: WhereOf = (o) => `S3Storage options.${o}`): ResolvedS3StorageOptions {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(whereOf("").replace(/\.$/, ""), "expected an object with at least `bucket`");
  }
  const o = value as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!KNOWN.has(key)) throw new ConfigError(whereOf(key), `unknown option (known: ${[...KNOWN].join(", ")})`);
  }
  const bucket = requiredString(o, "bucket", whereOf);
  if (/[/\s]/.test(bucket)) throw new ConfigError(whereOf("bucket"), "expected a bucket name without '/' or spaces");
  const endpoint = optionalString(o, "endpoint", whereOf);
  if (endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new ConfigError(whereOf("endpoint"), "expected an http:// or https:// URL");
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new ConfigError(whereOf("endpoint"), "expected an http:// or https:// URL");
    }
    if (url.username || url.password) {
      throw new ConfigError(whereOf("endpoint"), "credentials do not belong in the URL; use the credentials options");
    }
  }
  const region = optionalString(o, "region", whereOf) ?? "us-east-1";
  const prefix = keyPrefix(o, "prefix", whereOf);
  const staleUploadPrefix = keyPrefix(o, "staleUploadPrefix", whereOf);
  const partSize = integer(o, "partSize", whereOf, 16 * MiB, 5 * MiB, 5 * GiB);
  const storageClass = optionalString(o, "storageClass", whereOf);
  if (storageClass !== undefined && !/^[A-Za-z0-9_]+$/.test(storageClass)) {
    throw new ConfigError(whereOf("storageClass"), "expected a storage class name such as STANDARD or STANDARD_IA");
  }
  const logger = o.logger;
  if (logger !== undefined && (typeof logger !== "object" || logger === null || typeof (logger as Logger).warn !== "function")) {
    throw new ConfigError(whereOf("logger"), "expected a Logger (engine.getLogger(name))");
  }
  return {
    bucket,
    endpoint,
    region,
    prefix,
    credentials: credentials(o.credentials, whereOf),
    forcePathStyle: boolean(o, "forcePathStyle", whereOf, endpoint !== undefined),
    storageClass,
    partSize,
    multipartThreshold: integer(o, "multipartThreshold", whereOf, partSize, 0, 5 * GiB),
    concurrency: integer(o, "concurrency", whereOf, 4, 1, 256),
    maxAttempts: integer(o, "maxAttempts", whereOf, 5, 1, 20),
    retries: integer(o, "retries", whereOf, 3, 1, 20),
    retryBaseDelay: integer(o, "retryBaseDelay", whereOf, 500, 0, 60_000),
    listPageSize: integer(o, "listPageSize", whereOf, 1000, 1, 1000),
    requestTimeout: integer(o, "requestTimeout", whereOf, 120_000, 1, 3_600_000),
    connectionTimeout: integer(o, "connectionTimeout", whereOf, 10_000, 1, 600_000),
    contentMd5: boolean(o, "contentMd5", whereOf, true),
    abortStaleUploads: boolean(o, "abortStaleUploads", whereOf, true),
    staleUploadPrefix,
    logger: logger as Logger | undefined,
  };
}

/** The element (and key) each option comes from when built from typed parameters. */
const PARAMETER_OF: Record<string, [element: string, key: keyof Parameters]> = {
  bucket: ["S3Bucket", "s3Bucket"],
  endpoint: ["S3Endpoint", "s3Endpoint"],
  region: ["S3Region", "s3Region"],
  credentials: ["S3AccessKeyId/S3SecretAccessKey", "s3AccessKeyId"],
  staleUploadPrefix: ["RepositoryPrefix", "repositoryPrefix"],
  forcePathStyle: ["S3ForcePathStyle", "s3ForcePathStyle"],
  storageClass: ["S3StorageClass", "s3StorageClass"],
  partSize: ["S3PartSize", "s3PartSize"],
  concurrency: ["S3Concurrency", "s3Concurrency"],
};

/**
 * Options from the engine's typed parameters (the XML `<S3...>` elements or the `s3*` keys of a JS/JSON/YAML
 * config). Errors name both the element and the key. The repository prefix is not applied to keys (the repository
 * layer above the store adds it) but it does bound the stale-upload sweep, so hosts sharing a bucket under
 * different prefixes never abort each other's uploads.
 */
export function s3OptionsFromParameters(parameters: Parameters, logger?: Logger): ResolvedS3StorageOptions {
  const whereOf: WhereOf = (option) => {
    const p = PARAMETER_OF[option];
    return p ? `<${p[0]}> (parameters.${p[1]})` : `parameters (${option})`;
  };
  const id = parameters.s3AccessKeyId.trim();
  const secret = parameters.s3SecretAccessKey.trim();
  if ((id === "") !== (secret === "")) {
    throw new ConfigError(
      "<S3AccessKeyId>/<S3SecretAccessKey> (parameters.s3AccessKeyId/s3SecretAccessKey)",
      "set both, or neither to use the AWS SDK's default credential chain",
    );
  }
  if (parameters.s3Bucket.trim() === "") throw new ConfigError(whereOf("bucket"), "required when storage is s3");
  const options: Record<string, unknown> = {
    bucket: parameters.s3Bucket.trim(),
    region: parameters.s3Region.trim() || "us-east-1",
    partSize: parameters.s3PartSize,
    concurrency: parameters.s3Concurrency,
  };
  if (parameters.s3Endpoint.trim() !== "") options.endpoint = parameters.s3Endpoint.trim();
  if (id !== "") options.credentials = { accessKeyId: id, secretAccessKey: secret };
  if (parameters.s3ForcePathStyle !== undefined) options.forcePathStyle = parameters.s3ForcePathStyle;
  if (parameters.s3StorageClass.trim() !== "") options.storageClass = parameters.s3StorageClass.trim();
  if (parameters.repositoryPrefix.trim() !== "") options.staleUploadPrefix = parameters.repositoryPrefix.trim();
  if (logger) options.logger = logger;
  return parseS3StorageOptions(options, whereOf);
}

/** A key prefix: no leading `/`, no `.`/`..` segments or control characters; a `/` is appended when missing. */
function keyPrefix(o: Record<string, unknown>, key: string, whereOf: WhereOf): string {
  const prefix = optionalString(o, key, whereOf, true) ?? "";
  if (prefix.startsWith("/") || /[\u0000-\u001f\u007f\\]/.test(prefix) || prefix.split("/").some((s) => s === ".." || s === ".")) {
    throw new ConfigError(whereOf(key), "expected a key prefix without a leading '/', '.' or '..' segments, or control characters");
  }
  return prefix !== "" && !prefix.endsWith("/") ? `${prefix}/` : prefix;
}

function requiredString(o: Record<string, unknown>, key: string, whereOf: WhereOf): string {
  const v = optionalString(o, key, whereOf);
  if (v === undefined) throw new ConfigError(whereOf(key), "required: expected a non-empty string");
  return v;
}

function optionalString(o: Record<string, unknown>, key: string, whereOf: WhereOf, allowEmpty = false): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new ConfigError(whereOf(key), "expected a string");
  if (v.trim() === "" && !allowEmpty) throw new ConfigError(whereOf(key), "expected a non-empty string");
  return v.trim();
}

function integer(o: Record<string, unknown>, key: string, whereOf: WhereOf, def: number, min: number, max: number): number {
  const v = o[key];
  if (v === undefined) return def;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(whereOf(key), `expected an integer from ${min} to ${max}`);
  }
  return v;
}

function boolean(o: Record<string, unknown>, key: string, whereOf: WhereOf, def: boolean): boolean {
  const v = o[key];
  if (v === undefined) return def;
  if (typeof v !== "boolean") throw new ConfigError(whereOf(key), "expected true or false");
  return v;
}

function credentials(v: unknown, whereOf: WhereOf): S3Credentials | undefined {
  if (v === undefined) return undefined;
  if (typeof v === "function") return v as S3Credentials;
  const expected = "expected { accessKeyId, secretAccessKey[, sessionToken] } or a credential provider function";
  if (typeof v !== "object" || v === null) throw new ConfigError(whereOf("credentials"), expected);
  const c = v as Record<string, unknown>;
  for (const key of Object.keys(c)) {
    if (key !== "accessKeyId" && key !== "secretAccessKey" && key !== "sessionToken") {
      throw new ConfigError(whereOf("credentials"), `unknown field ${key}; ${expected}`);
    }
  }
  if (typeof c.accessKeyId !== "string" || c.accessKeyId.trim() === "") {
    throw new ConfigError(whereOf("credentials"), `accessKeyId missing or empty; ${expected}`);
  }
  if (typeof c.secretAccessKey !== "string" || c.secretAccessKey.trim() === "") {
    throw new ConfigError(whereOf("credentials"), `secretAccessKey missing or empty; ${expected}`);
  }
  if (c.sessionToken !== undefined && typeof c.sessionToken !== "string") {
    throw new ConfigError(whereOf("credentials"), `sessionToken must be a string; ${expected}`);
  }
  const out: S3StaticCredentials = { accessKeyId: c.accessKeyId.trim(), secretAccessKey: c.secretAccessKey.trim() };
  if (typeof c.sessionToken === "string" && c.sessionToken !== "") out.sessionToken = c.sessionToken;
  return out;
}
