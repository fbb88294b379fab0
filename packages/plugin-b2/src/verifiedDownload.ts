import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { StorageError, type ByteRange } from "@rtbackup/core";
import type B2 from "backblaze-b2";
import { B2Failure } from "./B2Failure.js";
import type { B2Session } from "./B2Session.js";
import { INFO_LARGE_FILE_SHA1 } from "./largeFileUpload.js";

/** Opens a download of `name` from byte `from` to `end` (inclusive; `undefined` = to the end). */
export type OpenDownload = (from: number, end: number | undefined) => Promise<B2.Response<Readable>>;

/** How a verified download behaves. */
export interface DownloadOptions {
  key: string;
  range: ByteRange | undefined;
  maxAttempts: number;
  /** A body that stays silent this long is treated as a broken connection. */
  idleTimeoutMs: number;
}

function header(res: B2.Response, name: string): string | undefined {
  const v = res.headers[name];
  return v === undefined || v === null ? undefined : String(v);
}

/**
 * Streams a download and checks it: the byte count against Content-Length, and for whole-object reads the SHA-1
 * against `X-Bz-Content-Sha1` (or, for large files, which B2 keeps no SHA-1 for, `large_file_sha1` from the file
 * info). A connection that breaks or stalls mid-body is resumed with a `Range` request from the next byte, on the
 * same file version only (`X-Bz-File-Id`), so two versions are never stitched together. Ranged reads are checked
 * for length only; the repository layer verifies its own hashes.
 */
export async function verifiedDownload(session: B2Session, open: OpenDownload, options: DownloadOptions): Promise<Readable> {
  const start = options.range?.start ?? 0;
  const first = checkedRange(await open(start, options.range?.end), options.range !== undefined, options.key);
  const total = totalSize(first);
  const end = options.range ? Math.min(options.range.end, total - 1) : total - 1;
  const fileId = header(first, "x-bz-file-id");
  let expectedSha1: string | undefined;
  if (!options.range) {
    const sha1 = header(first, "x-bz-content-sha1")?.replace(/^unverified:/, "");
    expectedSha1 = sha1 && sha1 !== "none" ? sha1 : header(first, `x-bz-info-${INFO_LARGE_FILE_SHA1}`);
  }
  async function* body(): AsyncGenerator<Buffer> {
    let response = first;
    let offset = start;
    const hash = expectedSha1 ? createHash("sha1") : undefined;
    let attempt = 1;
    try {
      for (;;) {
        try {
          for await (const chunk of withIdleTimeout(response.data, options.idleTimeoutMs)) {
            offset += chunk.length;
            if (offset > end + 1) throw integrity(options.key, `B2 sent more than the ${end + 1 - start} bytes announced`);
            hash?.update(chunk);
            session.stats.bytesDownloaded += chunk.length;
            yield chunk;
          }
          if (offset !== end + 1) throw new B2Failure("b2_download_file_by_name", "network", undefined, "truncated", "connection closed early");
          break;
        } catch (err) {
          if (err instanceof StorageError || session.signal.aborted) throw err;
          response.data.destroy();
          const failure =
            err instanceof B2Failure ? err : new B2Failure("b2_download_file_by_name", "network", undefined, "broken", String((err as Error)?.message ?? err));
          await session.recover(failure, attempt++, { key: options.key, generation: -1 });
          session.stats.downloadResumes += 1;
          response = checkedRange(await open(offset, end), true, options.key);
          if (header(response, "x-bz-file-id") !== fileId) {
            throw integrity(options.key, "the object was replaced while it was being read");
          }
        }
      }
      if (hash && hash.digest("hex") !== expectedSha1) throw integrity(options.key, "SHA-1 of the downloaded bytes does not match the stored SHA-1");
    } finally {
      response.data.destroy();
    }
  }
  return Readable.from(body(), { objectMode: false });
}

/** A ranged request must be answered with 206: bytes from elsewhere in the object must never be passed on. */
function checkedRange(res: B2.Response<Readable>, ranged: boolean, key: string): B2.Response<Readable> {
  if (ranged && res.status !== 206) {
    res.data.destroy();
    throw integrity(key, `a ranged download was answered with HTTP ${res.status} instead of 206`);
  }
  return res;
}

function totalSize(res: B2.Response): number {
  const range = /\/(\d+)\s*$/.exec(header(res, "content-range") ?? "");
  if (range) return Number(range[1]);
  return Number(header(res, "content-length") ?? 0);
}

function integrity(key: string, what: string): StorageError {
  return new StorageError("INTEGRITY", `get "${key}": ${what}`, { key, transient: true });
}

/** Yields a stream's chunks; a source that sends nothing for `ms` while being read is destroyed as stalled. */
async function* withIdleTimeout(stream: Readable, ms: number): AsyncGenerator<Buffer> {
  const chunks = stream[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  try {
    for (;;) {
      // Armed only while waiting for the source, so a slow consumer is not mistaken for a stalled connection.
      timer = setTimeout(() => stream.destroy(new B2Failure("b2_download_file_by_name", "timeout", undefined, "stalled", `no data for ${ms} ms`)), ms);
      const next = await chunks.next();
      clearTimeout(timer);
      if (next.done) return;
      const chunk = next.value as Buffer | Uint8Array;
      yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    }
  } finally {
    clearTimeout(timer);
  }
}
