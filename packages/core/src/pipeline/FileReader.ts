import { BufferPool } from "../io/BufferPool.js";
import { majorMinor } from "@rtbackup/linux-fs";
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from "node:fs";
import { lstat, open, readlink } from "node:fs/promises";
import type { Stats } from "node:fs";
import { BackupError, isErrno } from "../errors.js";
import { decodeName, encodeName, fsPath } from "../fsNames.js";
import { sha256Hex } from "../repository/format.js";
import type { FastCdc } from "../repository/v2/fastcdc.js";
import type { EntryType, FileEntry } from "../types.js";
import type { LocalIdentity } from "../state/StateCache.js";
import type { SharedSnapshot } from "./SharedSnapshot.js";
import { readEntryXattrs, readEntryXattrsSync, type ReadXattrs } from "../xattrs/xattrs.js";
import { readerOf, type ReadAt } from "./sparseRead.js";
import { entryTypeOf } from "../entryTypes.js";

/** A file whose content changed while it was being read (live reads only); the caller retries later. */
export class FileChangedError extends BackupError {
  constructor(path: string) {
    super("FILE_CHANGED", `${path} changed while it was being read`);
  }
}

/** Everything about a path except its content ids. */
export interface StatInfo {
  type: EntryType | "other";
  stats: Stats;
}

/** lstat of a path in the agent's string form (a name that is not UTF-8 is passed as its bytes). */
export function lstatPath(path: string): Promise<Stats> {
  return lstat(fsPath(path));
}

/**
 * lstat of `livePath` as a snapshot shows it. A path missing from the snapshot (ENOENT) is gone only if it is also
 * missing on disk: a snapshot view that lacks a file the disk has (a clone that failed to mount, an empty view) is an
 * error, retried later, never a deletion.
 */
export async function lstatInSnapshot(snapshotPath: string, livePath: string): Promise<Stats> {
  try {
    return await lstat(fsPath(snapshotPath));
  } catch (err) {
    if (snapshotPath === livePath || !isErrno(err, "ENOENT", "ENOTDIR")) throw err;
    if (
      await lstat(fsPath(livePath)).then(
        () => false,
        () => true,
      )
    )
      throw err;
    throw new BackupError("SNAPSHOT_FAILED", `${livePath} exists but is missing from its snapshot view (${snapshotPath}); not taken for deleted`, {
      cause: err,
    });
  }
}

/** lstat with the entry type decided. */
export async function statPath(path: string): Promise<StatInfo> {
  return typed(await lstat(fsPath(path)));
}

/** {@link statPath} with a synchronous call, for local paths (never a snapshot view that may be FUSE). */
export function statPathSync(path: string): StatInfo {
  return typed(lstatSync(fsPath(path)));
}

function typed(stats: Stats): StatInfo {
  return { type: entryTypeOf(stats), stats };
}

/** Local identity (not in the index) from stats. */
export function identityOf(stats: Stats): LocalIdentity {
  return { ctimeMs: stats.ctimeMs, ino: stats.ino };
}

/** The entry for `livePath` with metadata from `stats` and the given chunks. */
export function entryOf(livePath: string, type: EntryType, stats: Stats, chunks: string[], target?: string): FileEntry {
  return {
    path: livePath,
    type,
    size: type === "file" ? stats.size : type === "symlink" ? encodeName(target ?? "").length : 0,
    mtimeMs: stats.mtimeMs,
    mode: stats.mode & 0o7777,
    uid: stats.uid,
    gid: stats.gid,
    chunks,
    ...(target !== undefined ? { target } : {}),
    ...(type === "file" ? { inode: stats.ino, ...(stats.nlink > 1 ? { links: stats.nlink } : {}) } : {}),
    ...(type === "chardev" || type === "blockdev" ? majorMinor(stats.rdev) : {}),
  };
}

/**
 * What {@link readChunks} reports per chunk. `data` is a view of a read buffer that is reused once the returned
 * promise settles: a sink that keeps the bytes longer copies them.
 */
export type ChunkSink = (id: string, data: Buffer) => Promise<void>;

/** How a file is cut: fixed-size chunks of this many bytes (format v1), or content-defined chunks (format v2). */
export type Chunking = number | FastCdc;

/** Reads a content-defined chunker cuts in (a smaller file is one read). */
const CDC_BLOCK = 16 * 1024 * 1024;

/**
 * Read buffers of large files (chunks of at most 4 MiB, the default maxSize): three, as many as a file has puts in
 * flight. Each is given back once every chunk cut from it has been handed on and its sink has settled, so a large
 * backup reads into memory it has touched before ({@link BufferPool}).
 */
const READS = new BufferPool(CDC_BLOCK, 3);

/** A chunk and the buffer it is a view of; `done` is called once the chunk's sink has settled. */
interface ReadChunk {
  readonly data: Buffer;
  readonly done: () => void;
}

/** Counts the chunks of one read buffer still in use; the buffer goes back to its pool when none is and no more are cut. */
class BufferUse {
  #count = 1;
  constructor(
    readonly buffer: Buffer,
    readonly pool: BufferPool | undefined,
  ) {}
  hold(): () => void {
    this.#count++;
    return () => this.release();
  }
  release(): void {
    if (--this.#count === 0) this.pool?.give(this.buffer);
  }
}

/**
 * Content-defined chunks of a file: each read goes into a buffer after the uncut rest of the last one (less than one
 * chunk), and the chunks are views of it: only that rest is copied, never the file. A file of more than 1 MiB is
 * read into pooled buffers when its chunks fit ({@link READS}); a smaller one into a buffer of its size.
 */
async function* cdcChunks(read: ReadAt, size: number, cdc: FastCdc): AsyncGenerator<ReadChunk> {
  const { maxSize } = cdc.params;
  const pooled = size > 1024 * 1024 && maxSize <= CDC_BLOCK / 4;
  let rest = Buffer.alloc(0);
  let offset = 0;
  for (let end = false; !end;) {
    const want = rest.length + Math.min(CDC_BLOCK, Math.max(size - offset, 1));
    const use = new BufferUse(pooled ? READS.take() : Buffer.allocUnsafe(want), pooled ? READS : undefined);
    const buffer = use.buffer.subarray(0, Math.min(want, use.buffer.length));
    rest.copy(buffer, 0);
    let filled = rest.length;
    while (filled < buffer.length) {
      const bytesRead = await read(buffer, filled, buffer.length - filled, offset);
      if (bytesRead === 0) break;
      filled += bytesRead;
      offset += bytesRead;
    }
    // A short read is the end; a file that grew is read on (and then refused as changed).
    end = filled < buffer.length;
    let at = 0;
    try {
      while (filled - at >= maxSize || (end && at < filled)) {
        const n = cdc.cut(buffer, at, filled);
        yield { data: buffer.subarray(at, at + n), done: use.hold() };
        at += n;
      }
      // The rest is copied into the next buffer before this one may be given back.
      rest = Buffer.from(buffer.subarray(at, filled));
    } finally {
      use.release();
    }
  }
}

/** The file's chunks as buffers: fixed-size reads, or content-defined chunks. */
async function* chunksOf(read: ReadAt, size: number, chunking: Chunking): AsyncGenerator<ReadChunk> {
  if (typeof chunking !== "number") {
    yield* cdcChunks(read, size, chunking);
    return;
  }
  const block = chunking;
  let offset = 0;
  for (;;) {
    // A fresh buffer per read: what is handed on is never overwritten by the next read.
    const buffer = Buffer.allocUnsafe(Math.min(block, Math.max(size - offset, 1)));
    let filled = 0;
    while (filled < buffer.length) {
      const bytesRead = await read(buffer, filled, buffer.length - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    offset += filled;
    if (filled > 0) yield { data: filled === buffer.length ? buffer : buffer.subarray(0, filled), done: () => undefined };
    // A short read is the end; a file that grew is read on (and then refused as changed).
    if (filled < buffer.length) return;
  }
}

/**
 * Reads a regular file in chunks (fixed-size or content-defined, see {@link Chunking}), hashes each and hands it to
 * `sink` (which stores it unless it is already stored). Each chunk is hashed and stored from the same buffer, so
 * what is stored is what was hashed. If the file's size or mtime differ after the read from before it, throws
 * {@link FileChangedError}.
 */
export async function readChunks(
  readPath: string,
  livePath: string,
  chunking: Chunking,
  sink: ChunkSink,
  inFlight = 3,
  idOf: (data: Uint8Array) => string = sha256Hex,
): Promise<{ chunks: string[]; stats: Stats; xattrs: ReadXattrs }> {
  const handle = await open(fsPath(readPath), "r");
  try {
    const before = await handle.stat();
    const chunks: string[] = [];
    let offset = 0;
    // Up to `inFlight` chunks of one file are handed on at once, so a large file's puts overlap (and its reads
    // overlap its puts); the first failure wins once every started put has settled.
    const pending: Promise<void>[] = [];
    const settleAll = async () => {
      const results = await Promise.allSettled(pending.splice(0));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
    };
    // A sparse file's holes are not read: the filesystem says where its data is (sparseRead.ts).
    for await (const { data, done } of chunksOf(await readerOf(handle, before), before.size, chunking)) {
      const id = idOf(data);
      // Once the sink has settled, the chunk's bytes are not used again: its read buffer may be reused.
      const put = sink(id, data).finally(done);
      put.catch(() => undefined); // observed by settleAll; never an unhandled rejection
      pending.push(put);
      if (pending.length >= inFlight) {
        try {
          await pending[0];
          pending.shift();
        } catch {
          await settleAll();
        }
      }
      chunks.push(id);
      offset += data.length;
    }
    await settleAll();
    const xattrs = await readEntryXattrs(handle.fd);
    const after = await handle.stat();
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || offset !== after.size) {
      throw new FileChangedError(livePath);
    }
    return { chunks, stats: after, xattrs };
  } finally {
    await handle.close();
  }
}

/** Files up to this size are read by {@link readSmallFileSync}. */
export const SMALL_FILE_BYTES = 256 * 1024;

/**
 * Reads a small regular file on a local path (the live tree or a staging copy, never a snapshot view that may be
 * FUSE) at once, with synchronous calls: open (not following a symlink), fstat, one read, fstat,
 * close. For the many small files of a tree this costs a few microseconds of blocking each, far less than five trips
 * through the thread pool. Returns undefined, having read nothing, when the path is not a regular file or is larger
 * than {@link SMALL_FILE_BYTES} (the caller takes the general path); a missing path throws ENOENT as `lstat` would.
 * The content is cut as `chunking` says and handed to `sink` like {@link readChunks} does.
 */
export async function readSmallFileSync(
  readPath: string,
  livePath: string,
  chunking: Chunking,
  sink: ChunkSink,
  idOf: (data: Uint8Array) => string = sha256Hex,
): Promise<{ chunks: string[]; stats: Stats; xattrs: ReadXattrs } | undefined> {
  let fd: number;
  try {
    fd = openSync(fsPath(readPath), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (isErrno(err, "ELOOP", "EWOULDBLOCK", "ENXIO")) return undefined; // a symlink, a FIFO or device: the general path
    throw err;
  }
  let data: Buffer;
  let before: Stats;
  let xattrs: ReadXattrs;
  try {
    before = fstatSync(fd);
    if (!before.isFile() || before.size > SMALL_FILE_BYTES) return undefined;
    data = Buffer.allocUnsafe(before.size);
    let filled = 0;
    while (filled < data.length) {
      const n = readSync(fd, data, filled, data.length - filled, filled);
      if (n === 0) break;
      filled += n;
    }
    xattrs = readEntryXattrsSync(fd);
    const after = fstatSync(fd);
    if (filled !== before.size || after.size !== before.size || after.mtimeMs !== before.mtimeMs) throw new FileChangedError(livePath);
  } finally {
    closeSync(fd);
  }
  const lengths = typeof chunking === "number" ? fixedLengths(data.length, chunking) : chunking.lengths(data);
  const chunks: string[] = [];
  let at = 0;
  for (const length of lengths) {
    const part = data.subarray(at, at + length);
    const id = idOf(part);
    await sink(id, part);
    chunks.push(id);
    at += length;
  }
  return { chunks, stats: before, xattrs };
}

function fixedLengths(size: number, chunkSize: number): number[] {
  const out: number[] = [];
  for (let at = 0; at < size; at += chunkSize) out.push(Math.min(chunkSize, size - at));
  return out;
}

/** Reads a symlink's target, as bytes decoded losslessly (a target need not be UTF-8). */
export async function readLinkTarget(path: string): Promise<string> {
  return decodeName(await readlink(fsPath(path), { encoding: "buffer" }));
}

/**
 * lstat of each path of a batch as its snapshot shows it ({@link lstatInSnapshot}), 64 at a time: `undefined` for a
 * path that is gone, the error for one that cannot be read. A live "snapshot" (the path itself, on a local disk) is
 * read with synchronous calls; a snapshot view (maybe FUSE) through the thread pool.
 */
export async function lstatBatchInSnapshots(refs: readonly (readonly [string, SharedSnapshot])[]): Promise<(Stats | Error | undefined)[]> {
  const stats: (Stats | Error | undefined)[] = [];
  for (let i = 0; i < refs.length; i += 64) {
    const part = refs.slice(i, i + 64).map(([path, shared]) =>
      Promise.resolve()
        .then(() => (shared.live ? lstatSync(fsPath(path)) : lstatInSnapshot(shared.snapshot.pathOf(path), path)))
        .catch((err: unknown) => (isErrno(err, "ENOENT", "ENOTDIR") ? undefined : (err as Error))),
    );
    stats.push(...(await Promise.all(part)));
  }
  return stats;
}
