import type { Readable } from "node:stream";
import { StorageError, messageOf, type Body } from "@rtbackup/core";
import { BodyError, HashingBody, sha1Hex } from "./hashingBody.js";
import type { B2Session } from "./B2Session.js";
import type { UploadTarget, UploadUrlPool } from "./UploadUrlPool.js";

/** Content type of every object: the repository layer knows what its objects are. */
export const CONTENT_TYPE = "application/octet-stream";

// Uploads get the call timeout plus time for the bytes at a pessimistic 256 KiB/s, so a large part on a slow
// link is not cut off while a stalled small call still is.
const SLOWEST_BYTES_PER_SECOND = 256 * 1024;

/** The timeout of an upload of `bytes`. */
export function uploadTimeout(baseMs: number, bytes: number): number {
  return baseMs + Math.ceil((bytes * 1000) / SLOWEST_BYTES_PER_SECOND);
}

/** What B2 answered about a stored upload. */
interface UploadAnswer {
  contentLength?: number;
  contentSha1?: string;
}

/**
 * Uploads one object with `b2_upload_file`. Bytes in memory go with their SHA-1 in the header; a stream factory is
 * opened afresh for every attempt and sent in one pass with the SHA-1 appended (`hex_digits_at_end`). Either way
 * B2 checks the SHA-1 before storing, and the answer's length and SHA-1 are checked again here.
 */
export async function uploadSingle(
  session: B2Session,
  pool: UploadUrlPool,
  options: { key: string; name: string; body: Body; size: number; requestTimeoutMs: number },
): Promise<void> {
  const { key, name, body, size } = options;
  const buffer = body instanceof Uint8Array ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : undefined;
  if (buffer && buffer.length !== size) throw new BodyError(`body is ${buffer.length} bytes, declared ${size}`, false).toStorageError(key);
  const bufferSha1 = buffer ? sha1Hex(buffer) : undefined;
  const timeoutMs = uploadTimeout(options.requestTimeoutMs, size);
  const { answer, sha1 } = await pool.run(session, "b2_upload_file", key, async (target) => {
    if (buffer) {
      const res = await session.b2.uploadFile({
        uploadUrl: target.uploadUrl,
        uploadAuthToken: target.authorizationToken,
        fileName: name,
        data: buffer,
        hash: bufferSha1!,
        contentLength: size,
        mime: CONTENT_TYPE,
        axiosOverride: session.request({ timeoutMs }),
      });
      return { answer: res.data as UploadAnswer, sha1: bufferSha1! };
    }
    return sendStream(session, target, { name, factory: body as () => Readable | Promise<Readable>, size, timeoutMs });
  });
  const stored = answer.contentSha1?.replace(/^unverified:/, "");
  if (answer.contentLength !== size || (stored !== undefined && stored !== sha1)) {
    throw new StorageError("INTEGRITY", `put "${key}": B2 stored ${answer.contentLength} bytes with SHA-1 ${stored}, sent ${size} with ${sha1}`, {
      key,
      transient: true,
    });
  }
  session.stats.bytesUploaded += size;
}

async function sendStream(
  session: B2Session,
  target: UploadTarget,
  o: { name: string; factory: () => Readable | Promise<Readable>; size: number; timeoutMs: number },
): Promise<{ answer: UploadAnswer; sha1: string }> {
  let source: Readable;
  try {
    source = await o.factory();
  } catch (err) {
    throw new BodyError(`opening the body failed: ${messageOf(err)}`, true, err);
  }
  const hashing = new HashingBody(o.size, true);
  let bodyError: BodyError | undefined;
  let settled = false;
  const onError = (err: unknown) => {
    if (settled || bodyError) return;
    bodyError = err instanceof BodyError ? err : new BodyError(`reading the body failed: ${messageOf(err)}`, true, err);
  };
  // Registered before the HTTP client's own listener, so a body failure is known when the request fails.
  hashing.on("error", onError);
  source.on("error", (err) => {
    onError(err);
    hashing.destroy(err);
  });
  source.pipe(hashing);
  try {
    const res = await session.b2.uploadFile({
      uploadUrl: target.uploadUrl,
      uploadAuthToken: target.authorizationToken,
      fileName: o.name,
      data: hashing,
      hash: "hex_digits_at_end",
      contentLength: o.size + 40,
      mime: CONTENT_TYPE,
      axiosOverride: session.request({ timeoutMs: o.timeoutMs }),
    });
    if (hashing.digest === undefined) throw new BodyError("B2 answered before the whole body was sent", true);
    return { answer: res.data as UploadAnswer, sha1: hashing.digest };
  } catch (err) {
    if (bodyError) throw bodyError;
    throw err;
  } finally {
    settled = true;
    source.unpipe(hashing);
    source.destroy();
    hashing.destroy();
  }
}
