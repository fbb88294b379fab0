import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { StorageError } from "@rtbackup/core";

/** A problem with the body being uploaded (not with B2): wrong length, or the source failed to read. */
export class BodyError extends Error {
  readonly transient: boolean;
  constructor(message: string, transient: boolean, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "BodyError";
    this.transient = transient;
  }

  /** As the StorageError `put` rejects with. */
  toStorageError(key: string): StorageError {
    return new StorageError("STORAGE_FAILED", `put "${key}": ${this.message}`, { key, transient: this.transient, cause: this });
  }
}

/** SHA-1 of bytes, as 40 hex digits. */
export function sha1Hex(data: Uint8Array): string {
  return createHash("sha1").update(data).digest("hex");
}

/**
 * Passes a body through while counting its bytes and hashing it with SHA-1. It fails with a {@link BodyError} as
 * soon as the body is longer than declared, or at its end when it is shorter, so a wrong-length body aborts the
 * request instead of being stored. With `appendDigest` it adds the 40 hex digits of the SHA-1 after the body
 * (B2's `X-Bz-Content-Sha1: hex_digits_at_end`), so a stream is uploaded in one pass.
 */
export class HashingBody extends Transform {
  readonly #expected: number;
  readonly #append: boolean;
  readonly #hash: Hash = createHash("sha1");
  #seen = 0;
  #digest: string | undefined;

  constructor(expectedSize: number, appendDigest: boolean) {
    super();
    this.#expected = expectedSize;
    this.#append = appendDigest;
  }

  /** The SHA-1 of the body, once it has all passed. */
  get digest(): string | undefined {
    return this.#digest;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#expected) {
      callback(new BodyError(`body is longer than the declared ${this.#expected} bytes`, false));
      return;
    }
    this.#hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#seen !== this.#expected) {
      callback(new BodyError(`body was ${this.#seen} bytes, expected ${this.#expected}`, false));
      return;
    }
    this.#digest = this.#hash.digest("hex");
    if (this.#append) this.push(Buffer.from(this.#digest, "latin1"));
    callback();
  }
}
