import type { Readable } from "node:stream";
import { collectStream } from "../io/collectStream.js";

/**
 * The body of a `put`: bytes in memory, or a factory that opens a fresh stream. Backends that retry call the
 * factory again for every attempt, so a consumed stream is never sent twice.
 */
export type Body = Uint8Array | (() => Readable | Promise<Readable>);

/** A byte range, both ends inclusive (as in HTTP `Range: bytes=start-end`). */
export interface ByteRange {
  start: number;
  end: number;
}

/** What `head` and `list` return about one object. */
export interface ObjectInfo {
  key: string;
  size: number;
}

/**
 * The storage contract: a dumb object store. It knows nothing about paths, snapshots or the index; the repository
 * layer above it names objects and verifies their content. Every backend passes the shared contract suite exported
 * by `@rtbackup/core/testing`.
 *
 * Keys are `/`-separated strings of printable characters without `..` segments; backends map them to their own
 * namespace (a directory, a bucket prefix).
 */
export interface StorageBackend {
  /** A short description for logs (`local:/srv/backup`, `b2:bucket/prefix`). Never contains a secret. */
  readonly description: string;
  /**
   * Stores `body` under `key`, replacing any object of that name. `size` is the exact byte length; the backend
   * chooses single or multipart/large-file upload by it. Resolves once the object is stored, complete, and
   * readable; durable once `sync()` (where the backend has one) resolves. Once it has settled, the backend never reads
   * `body` (or a stream it opened) again, since the caller reuses that memory: an attempt given up on is stopped
   * before the next one starts or the put settles.
   */
  put(key: string, body: Body, size: number): Promise<void>;
  /**
   * Stores `body` under `key` only if there is no object of that name, as one atomic step: of two callers racing for
   * one key, exactly one resolves `true`; the other resolves `false` and stores nothing. Backends that cannot make it
   * atomic omit it (a repository's creation then reads its config back instead).
   */
  putNew?(key: string, body: Body, size: number): Promise<boolean>;
  /** Reads an object (or an inclusive byte range of it) as a stream. Rejects with STORAGE_NOT_FOUND if absent. */
  get(key: string, range?: ByteRange): Promise<Readable>;
  /** Size of an object, or `undefined` if there is none. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with `prefix`, in ascending key order (byte order of UTF-8). */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Removes an object (all its versions where the store keeps versions). Absent objects are not an error. */
  delete(key: string): Promise<void>;
  /**
   * Whether this backend's credentials may delete (B2: the key's capabilities), asked before a prune writes
   * anything. Undefined or absent: not known without trying (prune then probes with the delete of an absent key).
   */
  canDelete?(): Promise<boolean | undefined>;
  /**
   * Makes every put that has already resolved durable. Backends whose `put` is durable when it resolves (every
   * remote store) omit it; the local-directory store batches its directory fsyncs here. The repository calls it
   * before writing an index object that names new content, and after writing that index object.
   */
  sync?(): Promise<void>;
  /** Releases connections, timers and handles. */
  close?(): Promise<void>;
}

/** Reads a whole body into memory. For small objects (index batches, config). */
export async function bodyToBuffer(body: Body): Promise<Buffer> {
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return collectStream(await body());
}

/** Opens a body as a stream (a fresh one each call). */
export async function bodyToStream(body: Body): Promise<Readable> {
  if (body instanceof Uint8Array) {
    const { Readable } = await import("node:stream");
    return Readable.from([Buffer.from(body.buffer, body.byteOffset, body.byteLength)]);
  }
  return body();
}

/** Checks a key against the contract's rules; returns an error message or `undefined`. */
export function keyProblem(key: string): string | undefined {
  if (key.length === 0) return "empty key";
  if (key.startsWith("/")) return "key starts with /";
  if (key.split("/").some((s) => s === ".." || s === "." || s === "")) return "key has an empty, . or .. segment";
  if (/[\u0000-\u001f\u007f\\]/.test(key)) return "key has a control character or backslash";
  return undefined;
}
