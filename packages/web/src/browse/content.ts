import { BackupError, delay, encodeName, type ChunkSource, type FileEntry } from "@rtbackup/core";

/** Attempts per blob before a download gives up (a storage hiccup, a body cut short). */
const ATTEMPTS = 3;
/** Blobs of a file fetched ahead of the one being sent. */
const READ_AHEAD = 3;

/**
 * One blob's verified bytes, retried with a short backoff; a blob the store does not have, or one that still fails
 * after every attempt, is the error naming it.
 */
export async function readBlob(chunks: ChunkSource, id: string): Promise<Buffer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await chunks.getChunk(id);
    } catch (err) {
      const missing = err instanceof BackupError && err.code === "STORAGE_NOT_FOUND";
      if (missing || attempt >= ATTEMPTS) throw err;
      await delay(200 * attempt);
    }
  }
}

/** The error for content whose verified blobs do not add up to the size the index records. */
export function sizeMismatch(entry: FileEntry, bytes: number): BackupError {
  return new BackupError("INTEGRITY", `${entry.path}: content is ${bytes} bytes or more, the index says ${entry.size}`);
}

/**
 * A file's content, blob by blob, each verified by `chunks` before it is given, a few fetched ahead; `first` is the
 * first blob when the caller already read it. Throws when the blobs do not add up to the recorded size.
 */
export async function* fileContent(entry: FileEntry, chunks: ChunkSource, first?: Buffer): AsyncGenerator<Buffer> {
  const ids = entry.chunks;
  const ahead: Promise<Buffer>[] = [];
  let fetched = first === undefined ? 0 : 1;
  const fetchMore = () => {
    while (fetched < ids.length && ahead.length < READ_AHEAD) {
      const p = readBlob(chunks, ids[fetched++]!);
      p.catch(() => undefined); // awaited in turn below; a failure ahead must not be an unhandled rejection
      ahead.push(p);
    }
  };
  fetchMore();
  let sent = 0;
  for (let i = 0; i < ids.length; i++) {
    const data = i === 0 && first !== undefined ? first : await ahead.shift()!;
    fetchMore();
    sent += data.length;
    if (sent > entry.size) throw sizeMismatch(entry, sent);
    yield data;
  }
  if (sent !== entry.size) throw sizeMismatch(entry, sent);
}

/** RFC 5987 `value-chars`: percent-encoded UTF-8, `attr-char`s as themselves. */
function rfc5987(text: string): string {
  return encodeURIComponent(text).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The Content-Disposition of a download named `name` (core's form): `attachment; filename="…"` with an ASCII
 * fallback, plus `filename*=UTF-8''…` (RFC 5987) when the name is not plain printable ASCII. A byte that is not
 * UTF-8 shows as U+FFFD (a browser names the saved file; the bytes of the name cannot go through).
 */
export function contentDisposition(name: string): string {
  const text = encodeName(name).toString("utf8");
  const ascii = text.replace(/[^\x20-\x7e]|["\\%]/g, "_");
  if (ascii === text) return `attachment; filename="${text}"`;
  return `attachment; filename="${ascii}"; filename*=UTF-8''${rfc5987(text)}`;
}
