import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import { AbortMultipartUploadCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { Body, Logger, SecretRegistry } from "@rtbackup/core";
import { ExactLengthStream, lengthError } from "./ExactLengthStream.js";
import { httpStatusOf } from "./isTransientError.js";

const MiB = 1024 * 1024;
const MAX_PARTS = 10_000;

/** One multipart upload attempt. */
export interface MultipartPutRequest {
  client: S3Client;
  bucket: string;
  objectKey: string;
  /** The caller's key, for messages. */
  key: string;
  body: Body;
  size: number;
  partSize: number;
  concurrency: number;
  storageClass: string | undefined;
  redactor: SecretRegistry;
  logger: Logger | undefined;
}

/** The part size used for `size` bytes: the configured one, grown (in whole MiB) to stay within 10,000 parts. */
export function effectivePartSize(size: number, partSize: number): number {
  const needed = Math.ceil(size / MAX_PARTS);
  return needed <= partSize ? partSize : Math.ceil(needed / MiB) * MiB;
}

/**
 * Uploads one object in parts with lib-storage's `Upload` (up to `concurrency` parts in flight, each part a buffer
 * the SDK can retry on its own). A stream body goes through an {@link ExactLengthStream}, so a body of the wrong
 * length fails before the upload is completed. On any failure the other parts stop being sent, the upload is
 * aborted (best effort: some stores, s3rver among them, cannot abort; the stale-upload sweep catches those), and
 * the first error is rethrown.
 */
export async function multipartPut(r: MultipartPutRequest): Promise<void> {
  let source: Readable | undefined;
  let data: Uint8Array | Readable;
  if (r.body instanceof Uint8Array) {
    if (r.body.byteLength !== r.size) throw lengthError(r.key, `${r.body.byteLength} bytes`, r.size);
    data = r.body;
  } else {
    source = await r.body();
    const checked = new ExactLengthStream(r.key, r.size);
    pipeline(source, checked).catch(() => {
      // The same error reaches the upload through `checked`, which pipeline destroys with it.
    });
    data = checked;
  }
  // eslint-disable-next-line prefer-const -- assigned below, after the proxy that reads it is made
  let upload: Upload | undefined;
  let firstFailure: unknown;
  // lib-storage keeps sending the remaining parts after one part fails; watching its requests lets us stop it at
  // the first failure and report that failure instead of the generic "Upload aborted".
  const watched = new Proxy(r.client, {
    get(target, prop) {
      if (prop !== "send") return Reflect.get(target, prop, target);
      return async (...args: Parameters<S3Client["send"]>) => {
        try {
          return await (target.send as (...a: unknown[]) => Promise<unknown>)(...args);
        } catch (err) {
          if (firstFailure === undefined) {
            firstFailure = err;
            void upload?.abort();
          }
          throw err;
        }
      };
    },
  });
  upload = new Upload({
    client: watched,
    queueSize: r.concurrency,
    partSize: effectivePartSize(r.size, r.partSize),
    leavePartsOnError: true,
    params: {
      Bucket: r.bucket,
      Key: r.objectKey,
      Body: data,
      ContentLength: r.size,
      ...(r.storageClass ? { StorageClass: r.storageClass as never } : {}),
    },
  });
  try {
    await upload.done();
  } catch (err) {
    source?.destroy();
    if (upload.uploadId) await abortUpload(r, upload.uploadId);
    throw firstFailure ?? err;
  }
}

async function abortUpload(r: MultipartPutRequest, uploadId: string): Promise<void> {
  try {
    await r.client.send(new AbortMultipartUploadCommand({ Bucket: r.bucket, Key: r.objectKey, UploadId: uploadId }));
  } catch (err) {
    const status = httpStatusOf(err);
    const text = r.redactor.redact(err instanceof Error ? err.message : String(err));
    const line = `could not abort the failed multipart upload of ${r.key}: ${text}`;
    if (status === 405 || status === 501) r.logger?.debug(line);
    else r.logger?.warn(`${line}; its parts stay until the next start's sweep or a lifecycle rule removes them`);
  }
}
