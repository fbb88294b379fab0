import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { StorageError, collectStream, keyProblem, processSecrets, type Body, type ByteRange, type ObjectInfo, type StorageBackend } from "@rtbackup/core";
import { lengthError } from "./ExactLengthStream.js";
import { RetryPolicy } from "./RetryPolicy.js";
import { abortStaleUploads } from "./abortStaleUploads.js";
import { installMiddleware } from "./installMiddleware.js";
import { multipartPut } from "./multipartPut.js";
import { resumableBody } from "./resumableBody.js";
import { httpStatusOf } from "./isTransientError.js";
import { parseS3StorageOptions, type ResolvedS3StorageOptions, type S3StorageOptions } from "./S3StorageOptions.js";

const DELETE_BATCH = 1000;

/**
 * A {@link StorageBackend} on any S3-compatible store (AWS S3, MinIO, Wasabi, Ceph, Cloudflare R2, Backblaze B2's
 * S3 endpoint), through `@aws-sdk/client-s3`.
 *
 * - Checksums: `requestChecksumCalculation`/`responseChecksumValidation` are `WHEN_REQUIRED`, so no aws-chunked
 *   streaming bodies (which several non-AWS stores save verbatim as corrupt objects); single puts carry Content-MD5
 *   instead, and DeleteObjects carries Content-MD5 rather than CRC32.
 * - Puts up to `multipartThreshold` are read into memory (bounded by the threshold) and sent as one PutObject the
 *   SDK can retry; larger ones go multipart through lib-storage (parallel parts, aborted on failure).
 * - Retries: the SDK's standard strategy per request, then {@link RetryPolicy} around whole operations, which
 *   reopens a stream body's factory per attempt; downloads resume from the last byte received.
 * - Stale multipart uploads under the prefix are aborted lazily, once, before the first put (never by readers
 *   such as restore). `init()` checks that the bucket is reachable; the plugin calls it at start.
 * - Credentials never appear in `description`, log lines or errors: they are registered with core's process-wide
 *   secret registry ({@link processSecrets}), which every message is redacted against (marker `[REDACTED]`).
 */
export class S3Storage implements StorageBackend {
  /** `s3:<endpoint host or aws>/<bucket>/<prefix>`. */
  readonly description: string;
  readonly #o: ResolvedS3StorageOptions;
  readonly #client: S3Client;
  readonly #redactor = processSecrets;
  readonly #closing = new AbortController();
  readonly #retry: RetryPolicy;
  #ready: Promise<void> | undefined;
  #sweep: Promise<void> | undefined;

  constructor(options: S3StorageOptions | ResolvedS3StorageOptions) {
    const o = parseS3StorageOptions(options);
    this.#o = o;
    const host = o.endpoint ? new URL(o.endpoint).host : `aws(${o.region})`;
    this.description = `s3:${host}/${o.bucket}/${o.prefix}`;
    this.#retry = new RetryPolicy({
      attempts: o.retries,
      baseDelay: o.retryBaseDelay,
      redactor: this.#redactor,
      logger: o.logger,
      signal: this.#closing.signal,
    });
    const config: S3ClientConfig = {
      region: o.region,
      forcePathStyle: o.forcePathStyle,
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: o.maxAttempts,
      retryMode: "standard",
      requestHandler: {
        connectionTimeout: o.connectionTimeout,
        socketTimeout: o.requestTimeout,
        httpAgent: { keepAlive: true, maxSockets: 64 },
        httpsAgent: { keepAlive: true, maxSockets: 64 },
        logger: sdkLogger(o),
      },
    };
    if (o.endpoint) config.endpoint = o.endpoint;
    const c = o.credentials;
    if (typeof c === "function") {
      config.credentials = async () => {
        const resolved = await c();
        // Provider credentials rotate: kept among the capped ephemeral secrets.
        this.#redactor.addEphemeral(resolved.accessKeyId, resolved.secretAccessKey, resolved.sessionToken);
        return resolved;
      };
    } else if (c) {
      this.#redactor.add(c.accessKeyId, c.secretAccessKey, c.sessionToken);
      config.credentials = { ...c };
    }
    this.#client = new S3Client(config);
    installMiddleware(this.#client, this.#redactor);
  }

  /** The options in effect (credentials masked). */
  get options(): Readonly<Omit<ResolvedS3StorageOptions, "credentials" | "logger">> & { credentials: string } {
    const { credentials, logger: _logger, ...rest } = this.#o;
    return { ...rest, credentials: credentials === undefined ? "default chain" : typeof credentials === "function" ? "provider" : "static (***)" };
  }

  /**
   * Checks once that the bucket exists and the credentials may use it (HeadBucket), so a wrong bucket, region or
   * key fails at start with a message saying what to fix. A transient failure is not remembered: the next call
   * tries again.
   */
  init(): Promise<void> {
    this.#ready ??= this.#checkBucket().catch((err: unknown) => {
      if (err instanceof StorageError && err.transient) this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }

  async put(key: string, body: Body, size: number): Promise<void> {
    const objectKey = this.#objectKey(key);
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new StorageError("STORAGE_FAILED", `put ${key}: size ${size} is not a byte count`, { key, transient: false });
    }
    await this.#beforeFirstPut();
    const o = this.#o;
    if (size > o.multipartThreshold) {
      await this.#retry.run("put", key, () =>
        multipartPut({
          client: this.#client,
          bucket: o.bucket,
          objectKey,
          key,
          body,
          size,
          partSize: o.partSize,
          concurrency: o.concurrency,
          storageClass: o.storageClass,
          redactor: this.#redactor,
          logger: o.logger,
        }),
      );
      return;
    }
    await this.#retry.run("put", key, async () => {
      const data = await readExactly(key, body, size);
      await this.#client.send(
        new PutObjectCommand({
          Bucket: o.bucket,
          Key: objectKey,
          Body: data,
          ContentLength: size,
          ...(o.contentMd5 ? { ContentMD5: createHash("md5").update(data).digest("base64") } : {}),
          ...(o.storageClass ? { StorageClass: o.storageClass as never } : {}),
        }),
      );
    });
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const objectKey = this.#objectKey(key);
    if (range && (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0 || range.end < range.start)) {
      throw new StorageError("STORAGE_FAILED", `get ${key}: invalid range ${range.start}-${range.end}`, { key, transient: false });
    }
    const start = range?.start ?? 0;
    const first = await this.#retry.run("get", key, () => this.#getObject(key, objectKey, start, range?.end, undefined));
    // Some stores send more than asked (s3rver treats `bytes=0-0` as the whole object); the stream stops at the
    // requested end either way.
    const end = range ? Math.min(range.end, first.last) : first.last;
    return resumableBody({
      key,
      first: first.body,
      start,
      end,
      reopen: async (offset) => (await this.#getObject(key, objectKey, offset, end, first.etag)).body,
      retry: this.#retry,
      redactor: this.#redactor,
      logger: this.#o.logger,
    });
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const objectKey = this.#objectKey(key);
    try {
      const out = await this.#retry.run("head", key, () => this.#client.send(new HeadObjectCommand({ Bucket: this.#o.bucket, Key: objectKey })));
      return { key, size: out.ContentLength ?? 0 };
    } catch (err) {
      if (err instanceof StorageError && err.code === "STORAGE_NOT_FOUND") return undefined;
      throw err;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    if (prefix.startsWith("/") || /[\u0000-\u001f\u007f\\]/.test(prefix)) {
      throw new StorageError("STORAGE_FAILED", `list: invalid prefix "${prefix}"`, { transient: false });
    }
    const o = this.#o;
    let token: string | undefined;
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.#retry.run("list", prefix, () =>
        this.#client.send(
          new ListObjectsV2Command({
            Bucket: o.bucket,
            Prefix: o.prefix + prefix,
            MaxKeys: o.listPageSize,
            ...(token !== undefined ? { ContinuationToken: token } : {}),
            ...(startAfter !== undefined ? { StartAfter: startAfter } : {}),
          }),
        ),
      );
      const contents = page.Contents ?? [];
      for (const item of contents) {
        if (item.Key === undefined || !item.Key.startsWith(o.prefix)) continue;
        yield { key: item.Key.slice(o.prefix.length), size: item.Size ?? 0 };
      }
      if (!page.IsTruncated) return;
      if (page.NextContinuationToken) {
        token = page.NextContinuationToken;
      } else {
        const last = contents.at(-1)?.Key;
        if (last === undefined) {
          throw new StorageError("STORAGE_FAILED", `list ${prefix}: truncated page without a continuation token or keys`, { transient: false });
        }
        token = undefined;
        startAfter = last;
      }
    }
  }

  async delete(key: string): Promise<void> {
    const objectKey = this.#objectKey(key);
    try {
      await this.#retry.run("delete", key, () => this.#client.send(new DeleteObjectCommand({ Bucket: this.#o.bucket, Key: objectKey })));
    } catch (err) {
      if (err instanceof StorageError && err.code === "STORAGE_NOT_FOUND") return;
      throw err;
    }
  }

  /**
   * Removes many objects with DeleteObjects, 1,000 per request. Absent keys are not an error. Rejects with a
   * StorageError naming the first keys the store refused (transient when every refusal was a server-side error).
   */
  async deleteMany(keys: readonly string[]): Promise<void> {
    const objectKeys = keys.map((k) => this.#objectKey(k));
    for (let i = 0; i < objectKeys.length; i += DELETE_BATCH) {
      const batch = objectKeys.slice(i, i + DELETE_BATCH);
      await this.#retry.run("delete objects", undefined, async () => {
        const out = await this.#client.send(
          new DeleteObjectsCommand({ Bucket: this.#o.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
        );
        const refused = (out.Errors ?? []).filter((e) => e.Code !== "NoSuchKey");
        if (refused.length > 0) {
          const names = refused.slice(0, 5).map((e) => `${(e.Key ?? "?").slice(this.#o.prefix.length)} (${e.Code ?? "?"})`);
          const serverSide = refused.every((e) => e.Code === "InternalError" || e.Code === "SlowDown" || e.Code === "ServiceUnavailable");
          throw new StorageError(
            "STORAGE_FAILED",
            `delete objects: ${refused.length} of ${batch.length} refused: ${names.join(", ")}${refused.length > 5 ? ", ..." : ""}`,
            { transient: serverSide },
          );
        }
      });
    }
  }

  /**
   * Aborts incomplete multipart uploads under `prefix` + `staleUploadPrefix` (see {@link abortStaleUploads}); returns how many. `put`
   * runs it once by itself before the first upload; call it directly for a maintenance sweep.
   */
  abortStaleUploads(): Promise<number> {
    return abortStaleUploads({
      client: this.#client,
      bucket: this.#o.bucket,
      prefix: this.#o.prefix + this.#o.staleUploadPrefix,
      retry: this.#retry,
      redactor: this.#redactor,
      logger: this.#o.logger,
    });
  }

  async close(): Promise<void> {
    this.#closing.abort();
    this.#client.destroy();
  }

  #objectKey(key: string): string {
    const problem = keyProblem(key);
    if (problem) throw new StorageError("STORAGE_FAILED", `invalid key "${key}": ${problem}`, { key, transient: false });
    return this.#o.prefix + key;
  }

  #beforeFirstPut(): Promise<void> {
    this.#sweep ??= this.#o.abortStaleUploads
      ? this.abortStaleUploads().then((n) => {
          if (n > 0) this.#o.logger?.info(`aborted ${n} stale multipart upload(s) under ${this.description}`);
        })
      : Promise.resolve();
    return this.#sweep;
  }

  async #checkBucket(): Promise<void> {
    const o = this.#o;
    try {
      await this.#retry.run("check bucket", undefined, () => this.#client.send(new HeadBucketCommand({ Bucket: o.bucket })));
    } catch (err) {
      if (!(err instanceof StorageError) || err.transient) throw err;
      const status = httpStatusOf(err.cause);
      const hint =
        status === 404
          ? `bucket "${o.bucket}" does not exist (check the bucket name and the endpoint)`
          : status === 403
            ? `access to bucket "${o.bucket}" denied (check the access key, the secret and the key's permissions)`
            : status === 301 || status === 400
              ? `bucket "${o.bucket}" is not reachable with region "${o.region}" (check the region and the endpoint)`
              : `bucket "${o.bucket}" is not usable`;
      throw new StorageError("STORAGE_FAILED", `${this.description}: ${hint}: ${err.message}`, { cause: err.cause, transient: false });
    }
  }

  /**
   * One GetObject from `start` (to `end` when given; no Range header for a whole-object read). Returns the body and
   * the absolute offset of the last byte it carries, after checking the store honoured the range's start.
   */
  async #getObject(
    key: string,
    objectKey: string,
    start: number,
    end: number | undefined,
    etag: string | undefined,
  ): Promise<{ body: Readable; last: number; etag: string | undefined }> {
    const ranged = start > 0 || end !== undefined;
    const out = await this.#client.send(
      new GetObjectCommand({
        Bucket: this.#o.bucket,
        Key: objectKey,
        ...(ranged ? { Range: `bytes=${start}-${end ?? ""}` } : {}),
        ...(etag ? { IfMatch: etag } : {}),
      }),
    );
    const body = (out.Body as Readable | undefined) ?? Readable.from([]);
    const length = out.ContentLength;
    const fail = (message: string, transient: boolean): never => {
      body.destroy();
      throw new StorageError("STORAGE_FAILED", `get ${key}: ${message}`, { key, transient });
    };
    if (length === undefined) return fail("response without Content-Length", true);
    const contentRange = /^bytes (\d+)-(\d+)\//.exec(out.ContentRange ?? "");
    if (!contentRange) {
      if (start > 0) return fail(`the store ignored the byte range ${start}-${end ?? ""}`, false);
      return { body, last: length - 1, etag: out.ETag };
    }
    if (Number(contentRange[1]) !== start) return fail(`asked for bytes from ${start}, got ${out.ContentRange}`, false);
    return { body, last: Number(contentRange[2]), etag: out.ETag };
  }
}

/** The body as one buffer of exactly `size` bytes; a longer or shorter body is a permanent error. */
async function readExactly(key: string, body: Body, size: number): Promise<Buffer> {
  if (body instanceof Uint8Array) {
    if (body.byteLength !== size) throw lengthError(key, `${body.byteLength} bytes`, size);
    return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  }
  const stream = await body();
  let data: Buffer;
  try {
    data = await collectStream(stream, { limit: size, tooLarge: () => lengthError(key, `more than ${size} bytes`, size) });
  } finally {
    stream.destroy();
  }
  if (data.length !== size) throw lengthError(key, `${data.length} bytes`, size);
  return data;
}

function sdkLogger(o: ResolvedS3StorageOptions): {
  debug(...a: unknown[]): void;
  info(...a: unknown[]): void;
  warn(...a: unknown[]): void;
  error(...a: unknown[]): void;
} {
  const line = (a: unknown[]) => a.map((x) => (typeof x === "string" ? x : String(x))).join(" ");
  return {
    debug: (...a) => o.logger?.debug(`aws-sdk: ${line(a)}`),
    info: (...a) => o.logger?.debug(`aws-sdk: ${line(a)}`),
    warn: (...a) => o.logger?.debug(`aws-sdk: ${line(a)}`),
    error: (...a) => o.logger?.debug(`aws-sdk: ${line(a)}`),
  };
}
