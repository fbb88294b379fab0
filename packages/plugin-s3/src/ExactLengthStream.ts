import { Transform, type TransformCallback } from "node:stream";
import { StorageError } from "@rtbackup/core";

/**
 * Passes bytes through and fails (with a permanent StorageError) as soon as more than `size` bytes arrive, or at
 * the end if fewer did. An upload fed through it can never complete with a body of the wrong length, which a
 * store cannot detect on a multipart upload.
 */
export class ExactLengthStream extends Transform {
  readonly #size: number;
  readonly #key: string;
  #seen = 0;

  constructor(key: string, size: number) {
    super();
    this.#key = key;
    this.#size = size;
  }

  /** Bytes passed through so far. */
  get bytes(): number {
    return this.#seen;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#size) {
      callback(lengthError(this.#key, `more than ${this.#size} bytes`, this.#size));
      return;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#seen !== this.#size) callback(lengthError(this.#key, `${this.#seen} bytes`, this.#size));
    else callback();
  }
}

/** The error for a body whose length differs from the size declared to `put`. */
export function lengthError(key: string, actual: string, expected: number): StorageError {
  return new StorageError("STORAGE_FAILED", `put ${key}: body was ${actual}, expected ${expected}`, { key, transient: false });
}
