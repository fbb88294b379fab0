import {
  BadValue,
  booleanKind,
  ConfigError,
  integerKind,
  loggerKind,
  nonEmptyTextKind,
  patternKind,
  PluginOptions,
  urlKind,
  type Logger,
  type OptionKind,
  type Parameters,
} from "@rtbackup/core";

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

const KNOWN = [
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
];

/** Names an option in an error message: `S3StoragePlugin.options.bucket`, or an XML element. */
export type WhereOf = (option: string) => string;

/**
 * Validates options given in code or a JS/JSON/YAML config with core's {@link PluginOptions}. Every bad value
 * throws a `ConfigError` that names the option (`<owner>.options.<option>`, or through `whereOf`) and what was
 * expected. Credentials (and the endpoint, which may carry some) are never echoed.
 */
export function parseS3StorageOptions(value: unknown, owner = "S3Storage", whereOf?: WhereOf): ResolvedS3StorageOptions {
  const o = PluginOptions.read(owner, value, KNOWN, { ...(whereOf && { where: whereOf }), secret: ["credentials", "endpoint"] });
  const endpoint = o.get("endpoint", endpointKind);
  const partSize = o.get("partSize", integerKind(5 * MiB, 5 * GiB, "bytes"), 16 * MiB);
  const int = (key: string, fallback: number, min: number, max: number) => o.get(key, integerKind(min, max), fallback);
  return {
    bucket: o.required("bucket", bucketKind, "a bucket name"),
    endpoint,
    region: o.get("region", nonEmptyTextKind, "us-east-1"),
    prefix: o.get("prefix", prefixKind, ""),
    credentials: o.get("credentials", credentialsKind),
    forcePathStyle: o.get("forcePathStyle", booleanKind, endpoint !== undefined),
    storageClass: o.get("storageClass", storageClassKind),
    partSize,
    multipartThreshold: o.get("multipartThreshold", integerKind(0, 5 * GiB, "bytes"), partSize),
    concurrency: int("concurrency", 4, 1, 256),
    maxAttempts: int("maxAttempts", 5, 1, 20),
    retries: int("retries", 3, 1, 20),
    retryBaseDelay: int("retryBaseDelay", 500, 0, 60_000),
    listPageSize: int("listPageSize", 1000, 1, 1000),
    requestTimeout: int("requestTimeout", 120_000, 1, 3_600_000),
    connectionTimeout: int("connectionTimeout", 10_000, 1, 600_000),
    contentMd5: o.get("contentMd5", booleanKind, true),
    abortStaleUploads: o.get("abortStaleUploads", booleanKind, true),
    staleUploadPrefix: o.get("staleUploadPrefix", prefixKind, ""),
    logger: o.get("logger", loggerKind),
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
  return parseS3StorageOptions(options, "S3StoragePlugin", whereOf);
}

const bucketKind: OptionKind<string> = {
  fromValue(value, source) {
    const name = nonEmptyTextKind.fromValue(value, source);
    if (/[/\s]/.test(name)) throw new BadValue("a bucket name without '/' or spaces");
    return name;
  },
};

const endpointKind: OptionKind<string> = {
  fromValue(value, source) {
    const text = urlKind.fromValue(typeof value === "string" ? value.trim() : value, source);
    if (text === "") throw new BadValue("an http:// or https:// URL");
    const url = new URL(text);
    if (url.username || url.password) throw new BadValue("a URL without a user name or password (credentials belong in the credentials option)");
    return text;
  },
};

const storageClassKind = patternKind(/^[A-Za-z0-9_]+$/, "a storage class name such as STANDARD or STANDARD_IA");

/** A key prefix: no leading `/`, no `.`/`..` segments or control characters; a `/` is appended when missing. */
const prefixKind: OptionKind<string> = {
  fromValue(value) {
    const expected = "a key prefix without a leading '/', '.' or '..' segments, or control characters";
    if (typeof value !== "string") throw new BadValue(expected);
    const prefix = value.trim();
    if (prefix.startsWith("/") || /[\u0000-\u001f\u007f\\]/.test(prefix) || prefix.split("/").some((s) => s === ".." || s === ".")) {
      throw new BadValue(expected);
    }
    return prefix !== "" && !prefix.endsWith("/") ? `${prefix}/` : prefix;
  },
};

/** Static credentials or a provider function; what is wrong is named, the values never are. */
const credentialsKind: OptionKind<S3Credentials> = {
  fromValue(v) {
    if (typeof v === "function") return v as S3Credentials;
    const expected = "{ accessKeyId, secretAccessKey[, sessionToken] } or a credential provider function";
    if (typeof v !== "object" || v === null) throw new BadValue(expected);
    const c = v as Record<string, unknown>;
    const unknown = Object.keys(c).find((key) => key !== "accessKeyId" && key !== "secretAccessKey" && key !== "sessionToken");
    if (unknown !== undefined) throw new BadValue(`${expected} (unknown field ${unknown})`);
    if (typeof c.accessKeyId !== "string" || c.accessKeyId.trim() === "") throw new BadValue(`${expected}; accessKeyId is missing or empty`);
    if (typeof c.secretAccessKey !== "string" || c.secretAccessKey.trim() === "") throw new BadValue(`${expected}; secretAccessKey is missing or empty`);
    if (c.sessionToken !== undefined && typeof c.sessionToken !== "string") throw new BadValue(`${expected}; sessionToken must be a string`);
    const out: S3StaticCredentials = { accessKeyId: c.accessKeyId.trim(), secretAccessKey: c.secretAccessKey.trim() };
    if (typeof c.sessionToken === "string" && c.sessionToken !== "") out.sessionToken = c.sessionToken;
    return out;
  },
};
