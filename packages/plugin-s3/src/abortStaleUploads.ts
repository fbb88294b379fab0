import { AbortMultipartUploadCommand, ListMultipartUploadsCommand, type S3Client } from "@aws-sdk/client-s3";
import type { Logger, SecretRegistry } from "@rtbackup/core";
import { httpStatusOf } from "./isTransientError.js";
import type { RetryPolicy } from "./RetryPolicy.js";

/** What {@link abortStaleUploads} needs. */
export interface StaleUploadSweep {
  client: S3Client;
  bucket: string;
  /** Only uploads whose key starts with this are touched. */
  prefix: string;
  retry: RetryPolicy;
  redactor: SecretRegistry;
  logger: Logger | undefined;
}

/**
 * Aborts every incomplete multipart upload under `prefix` (left behind by a crash: their parts are billed but
 * invisible to listing), following ListMultipartUploads' pagination. Returns how many were aborted. Never throws:
 * a store that cannot list uploads (s3rver answers NotImplemented), a key without the permission, or a network
 * failure is logged and the sweep ends; an upload that vanished meanwhile is not an error.
 */
export async function abortStaleUploads(s: StaleUploadSweep): Promise<number> {
  let aborted = 0;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  try {
    for (;;) {
      const page = await s.retry.run("list multipart uploads", undefined, () =>
        s.client.send(
          new ListMultipartUploadsCommand({
            Bucket: s.bucket,
            ...(s.prefix ? { Prefix: s.prefix } : {}),
            ...(keyMarker !== undefined ? { KeyMarker: keyMarker } : {}),
            ...(uploadIdMarker !== undefined ? { UploadIdMarker: uploadIdMarker } : {}),
          }),
        ),
      );
      for (const u of page.Uploads ?? []) {
        if (!u.Key || !u.UploadId || !u.Key.startsWith(s.prefix)) continue;
        try {
          await s.retry.run("abort multipart upload", u.Key, () =>
            s.client.send(new AbortMultipartUploadCommand({ Bucket: s.bucket, Key: u.Key, UploadId: u.UploadId })),
          );
          aborted += 1;
          s.logger?.info(`aborted stale multipart upload of ${u.Key} (initiated ${u.Initiated?.toISOString() ?? "at an unknown time"})`);
        } catch (err) {
          if (!/NoSuchUpload/.test(String((err as Error).message))) {
            s.logger?.warn(`could not abort stale multipart upload of ${u.Key}: ${(err as Error).message}`);
          }
        }
      }
      if (!page.IsTruncated) break;
      if (page.NextKeyMarker === undefined && page.NextUploadIdMarker === undefined) {
        s.logger?.warn("ListMultipartUploads was truncated without a marker; stale-upload sweep stopped early");
        break;
      }
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  } catch (err) {
    const status = httpStatusOf((err as { cause?: unknown }).cause) ?? httpStatusOf(err);
    const text = s.redactor.redact((err as Error).message);
    if (status === 501 || status === 405) s.logger?.debug(`store does not list multipart uploads; stale-upload sweep skipped (${text})`);
    else s.logger?.warn(`stale multipart upload sweep failed: ${text}`);
  }
  return aborted;
}
