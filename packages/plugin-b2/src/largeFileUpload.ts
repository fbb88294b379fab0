import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { StorageError, messageOf, type Body } from "@rtbackup/core";
import type { B2Failure } from "./B2Failure.js";
import type { B2Session } from "./B2Session.js";
import { BodyError, HashingBody, sha1Hex } from "./hashingBody.js";
import { CONTENT_TYPE, uploadTimeout } from "./singleUpload.js";
import { UploadUrlPool } from "./UploadUrlPool.js";

/** B2 allows at most 10,000 parts. */
const MAX_PARTS = 10_000;

/** fileInfo key of a large file's whole SHA-1 (B2's recommendation; B2 keeps none for large files). */
export const INFO_LARGE_FILE_SHA1 = "large_file_sha1";
/** fileInfo key naming the host (`owner` option) that started a large file. */
export const INFO_OWNER = "rtb_owner";
/** fileInfo key naming the backend instance that started a large file (it never cancels its own). */
export const INFO_SESSION = "rtb_session";

/** The part size for an object of `size`, or `undefined` when it would not make the two parts B2 requires. */
export function planPartSize(size: number, chunkSize: number, minimumPartSize: number): number | undefined {
  const partSize = Math.max(chunkSize, minimumPartSize, Math.ceil(size / MAX_PARTS));
  return Math.ceil(size / partSize) >= 2 ? partSize : undefined;
}

/** What a large-file upload needs. */
export interface LargeFileJob {
  key: string;
  name: string;
  body: Body;
  size: number;
  partSize: number;
  bucketId: string;
  partConcurrency: number;
  requestTimeoutMs: number;
  owner: string;
  sessionTag: string;
}

/**
 * Uploads one object with the large-file API. A first pass over the body computes its SHA-1 (it goes into
 * `large_file_sha1`, since B2 keeps none for large files); then `b2_start_large_file`, and parts of `partSize`
 * read in order and uploaded in parallel (`partConcurrency` at once, each on its own part URL, each with its SHA-1),
 * and `b2_finish_large_file`. The second pass is hashed again and must match the first. On any failure the large
 * file is cancelled, so nothing half-written is left to look like an object (unfinished files are not listed).
 */
export async function uploadLargeFile(session: B2Session, job: LargeFileJob): Promise<void> {
  const { key, body, size } = job;
  const buffer = body instanceof Uint8Array ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : undefined;
  if (buffer && buffer.length !== size) throw new BodyError(`body is ${buffer.length} bytes, declared ${size}`, false).toStorageError(key);
  const wholeSha1 = buffer ? sha1Hex(buffer) : await hashBody(body as () => Readable | Promise<Readable>, size, key);
  const started = await session.call(
    "b2_start_large_file",
    () =>
      session.b2.startLargeFile({
        bucketId: job.bucketId,
        fileName: job.name,
        contentType: CONTENT_TYPE,
        // The library does not pass fileInfo; the override is deep-merged into the request body.
        axiosOverride: session.request({
          data: { fileInfo: { [INFO_LARGE_FILE_SHA1]: wholeSha1, [INFO_OWNER]: job.owner, [INFO_SESSION]: job.sessionTag } },
        }),
      }),
    { key },
  );
  const fileId = String((started!.data as { fileId: string }).fileId);
  session.stats.largeFilesStarted += 1;
  try {
    const source = buffer ?? (await openBody(body as () => Readable | Promise<Readable>));
    const partSha1s = await uploadParts(session, job, fileId, source, wholeSha1);
    await finish(session, job, fileId, partSha1s);
    session.stats.largeFilesFinished += 1;
  } catch (err) {
    await cancel(session, fileId, key);
    throw err instanceof BodyError ? err.toStorageError(key) : err;
  }
}

async function openBody(factory: () => Readable | Promise<Readable>): Promise<Readable> {
  try {
    return await factory();
  } catch (err) {
    throw new BodyError(`opening the body failed: ${messageOf(err)}`, true, err);
  }
}

async function hashBody(factory: () => Readable | Promise<Readable>, size: number, key: string): Promise<string> {
  const hashing = new HashingBody(size, false);
  let source: Readable | undefined;
  try {
    source = await openBody(factory);
    source.on("error", (err) => hashing.destroy(err));
    source.pipe(hashing);
    for await (const _chunk of hashing) {
      // Only the hash is wanted in this pass.
    }
    return hashing.digest!;
  } catch (err) {
    const bodyError = err instanceof BodyError ? err : new BodyError(`reading the body failed: ${messageOf(err)}`, true, err);
    throw bodyError.toStorageError(key);
  } finally {
    source?.destroy();
  }
}

/** Cuts a body into parts of exactly `partSize` bytes (the last one shorter), checking the total length. */
async function* partsOf(source: Readable | Buffer, partSize: number, size: number): AsyncGenerator<Buffer> {
  if (Buffer.isBuffer(source)) {
    for (let at = 0; at < size; at += partSize) yield source.subarray(at, Math.min(size, at + partSize));
    return;
  }
  let emitted = 0;
  let part: Buffer | undefined = Buffer.allocUnsafe(Math.min(partSize, size));
  let filled = 0;
  try {
    for await (const raw of source) {
      const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array);
      let offset = 0;
      while (offset < chunk.length) {
        if (!part) throw new BodyError(`body is longer than the declared ${size} bytes`, false);
        const n = Math.min(part.length - filled, chunk.length - offset);
        chunk.copy(part, filled, offset, offset + n);
        filled += n;
        offset += n;
        if (filled === part.length) {
          emitted += part.length;
          const full: Buffer = part;
          part = emitted < size ? Buffer.allocUnsafe(Math.min(partSize, size - emitted)) : undefined;
          filled = 0;
          yield full;
        }
      }
    }
  } catch (err) {
    throw err instanceof BodyError ? err : new BodyError(`reading the body failed: ${messageOf(err)}`, true, err);
  } finally {
    source.destroy();
  }
  if (emitted !== size) throw new BodyError(`body was ${emitted + filled} bytes, expected ${size}`, false);
}

async function uploadParts(session: B2Session, job: LargeFileJob, fileId: string, source: Readable | Buffer, wholeSha1: string): Promise<string[]> {
  const pool = new UploadUrlPool(async () => {
    session.stats.partUrlsFetched += 1;
    const res = await session.call("b2_get_upload_part_url", () => session.b2.getUploadPartUrl({ fileId, axiosOverride: session.request() }), {
      key: job.key,
    });
    const data = res!.data as { uploadUrl: string; authorizationToken: string };
    return { uploadUrl: data.uploadUrl, authorizationToken: data.authorizationToken, fetchedAt: Date.now() };
  });
  const sha1s: string[] = [];
  const inFlight = new Set<Promise<void>>();
  const again = createHash("sha1");
  let failure: unknown;
  let partNumber = 0;
  try {
    for await (const part of partsOf(source, job.partSize, job.size)) {
      if (failure !== undefined) break;
      const n = ++partNumber;
      again.update(part);
      const task: Promise<void> = uploadPart(session, pool, job, n, part).then(
        (sha1) => void (sha1s[n - 1] = sha1),
        (err) => void (failure ??= err),
      );
      const tracked: Promise<void> = task.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      while (inFlight.size >= job.partConcurrency) await Promise.race(inFlight);
    }
  } catch (err) {
    failure ??= err;
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure;
  if (again.digest("hex") !== wholeSha1) throw new BodyError("the body changed between the hashing pass and the upload pass", true);
  return sha1s;
}

async function uploadPart(session: B2Session, pool: UploadUrlPool, job: LargeFileJob, partNumber: number, data: Buffer): Promise<string> {
  const sha1 = sha1Hex(data);
  const timeoutMs = uploadTimeout(job.requestTimeoutMs, data.length);
  const answer = await pool.run(session, "b2_upload_part", job.key, async (target) => {
    const res = await session.b2.uploadPart({
      uploadUrl: target.uploadUrl,
      uploadAuthToken: target.authorizationToken,
      partNumber,
      data,
      hash: sha1,
      contentLength: data.length,
      axiosOverride: session.request({ timeoutMs }),
    });
    return res.data as { contentLength?: number; contentSha1?: string };
  });
  if (answer.contentLength !== data.length || answer.contentSha1 !== sha1) {
    throw new StorageError("INTEGRITY", `put "${job.key}": B2 stored part ${partNumber} differently than it was sent`, {
      key: job.key,
      transient: true,
    });
  }
  session.stats.bytesUploaded += data.length;
  return sha1;
}

async function finish(session: B2Session, job: LargeFileJob, fileId: string, partSha1Array: string[]): Promise<void> {
  let refused: B2Failure | undefined;
  const done = await session.call("b2_finish_large_file", () => session.b2.finishLargeFile({ fileId, partSha1Array, axiosOverride: session.request() }), {
    key: job.key,
    tolerate: (f) => f.kind === "client" && ((refused = f), true),
  });
  if (done) return;
  // A finish whose answer was lost (timeout, reset) may have worked, and then the retry is refused as "no active
  // upload": ask what the file is now.
  const info = await session.call("b2_get_file_info", () => session.b2.getFileInfo({ fileId, axiosOverride: session.request() }), {
    key: job.key,
    tolerate: (f) => f.kind === "notFound",
  });
  const file = info?.data as { action?: string; contentLength?: number } | undefined;
  if (file?.action === "upload" && file.contentLength === job.size) return;
  throw session.storageError(refused!, 1, job.key);
}

async function cancel(session: B2Session, fileId: string, key: string): Promise<void> {
  if (session.signal.aborted) return;
  try {
    await session.call("b2_cancel_large_file", () => session.b2.cancelLargeFile({ fileId, axiosOverride: session.request() }), {
      key,
      tolerate: (f) => f.kind === "client",
    });
    session.stats.largeFilesCancelled += 1;
  } catch {
    // Left unfinished: it is not listed, and this owner's next start cancels it.
  }
}
