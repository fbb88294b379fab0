import { Readable } from "node:stream";
import { StorageError, type Logger, type SecretRegistry } from "@rtbackup/core";
import { toStorageError } from "./toStorageError.js";
import type { RetryPolicy } from "./RetryPolicy.js";

/** What {@link resumableBody} needs. */
export interface ResumableBodyOptions {
  key: string;
  /** The body of the first response. */
  first: Readable;
  /** Absolute offset of the first byte of `first`. */
  start: number;
  /** Absolute offset of the last byte expected (inclusive); `start - 1` for an empty object. */
  end: number;
  /** Requests the bytes from `offset` to `end` again (of the same object version) and returns the new body. */
  reopen(offset: number): Promise<Readable>;
  retry: RetryPolicy;
  redactor: SecretRegistry;
  logger: Logger | undefined;
}

/**
 * A download stream that survives a connection cut off mid-body: when the body fails transiently or ends short,
 * the rest is requested again from the byte where it stopped (with `If-Match` on the ETag, so a replaced object is
 * an error, never a splice of two versions). Consumers see one continuous stream; it fails only when the failures
 * are permanent or `retry.attempts` failures in a row made no progress. Bytes past `end` (a store that sent more
 * than the range asked for) are dropped.
 */
export function resumableBody(o: ResumableBodyOptions): Readable {
  async function* bytes(): AsyncGenerator<Buffer> {
    let body: Readable | undefined = o.first;
    let offset = o.start;
    let failures = 0;
    let offsetAtLastFailure = -1;
    try {
      for (;;) {
        try {
          if (!body) body = await o.reopen(offset);
          for await (const chunk of body) {
            const buf = chunk as Buffer;
            const room = o.end + 1 - offset;
            if (buf.length >= room) {
              offset += room;
              if (room > 0) yield buf.subarray(0, room);
              return;
            }
            offset += buf.length;
            yield buf;
          }
          if (offset === o.end + 1) return;
          throw new StorageError("STORAGE_FAILED", `get ${o.key}: body ended after ${offset - o.start} of ${o.end + 1 - o.start} bytes`, {
            key: o.key,
            transient: true,
          });
        } catch (err) {
          body?.destroy();
          body = undefined;
          const mapped = toStorageError("get", o.key, err, o.redactor);
          if (offset !== offsetAtLastFailure) failures = 0;
          failures += 1;
          offsetAtLastFailure = offset;
          if (!mapped.transient || failures >= o.retry.attempts) throw mapped;
          o.logger?.warn(`${mapped.message}; resuming at byte ${offset}`);
          await o.retry.wait(o.retry.delayFor(failures));
        }
      }
    } finally {
      body?.destroy();
    }
  }
  return Readable.from(bytes(), { objectMode: false });
}
