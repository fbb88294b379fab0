/** What {@link FrameDecoder.push} found. */
export type DecodedFrame = { payload: Buffer } | { tooLarge: number };

/**
 * Splits a byte stream into length-prefixed frames (4-byte big-endian payload length, then the payload). It holds at
 * most one frame: once a prefix is read, one buffer of exactly that size is allocated and filled in place, so a peer
 * trickling bytes cannot make it keep many small chunks. A prefix above `maxFrame` is reported before any of its
 * payload is taken; the stream cannot be resynchronised after that, so the caller closes the connection.
 */
export class FrameDecoder {
  readonly #maxFrame: number;
  readonly #head = Buffer.alloc(4);
  #headFilled = 0;
  #body: Buffer | undefined;
  #bodyFilled = 0;
  #failed = false;

  constructor(maxFrame: number) {
    this.#maxFrame = maxFrame;
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.#headFilled + this.#bodyFilled;
  }

  /** Feeds bytes; returns the complete frames they finish, in order (a `tooLarge` entry is always the last). */
  push(chunk: Buffer): DecodedFrame[] {
    const out: DecodedFrame[] = [];
    let at = 0;
    while (!this.#failed && at < chunk.length) {
      if (!this.#body) {
        const n = Math.min(4 - this.#headFilled, chunk.length - at);
        chunk.copy(this.#head, this.#headFilled, at, at + n);
        this.#headFilled += n;
        at += n;
        if (this.#headFilled < 4) break;
        const length = this.#head.readUInt32BE(0);
        this.#headFilled = 0;
        if (length > this.#maxFrame) {
          this.#failed = true;
          out.push({ tooLarge: length });
          break;
        }
        this.#body = Buffer.allocUnsafe(length);
        this.#bodyFilled = 0;
      }
      const n = Math.min(this.#body.length - this.#bodyFilled, chunk.length - at);
      chunk.copy(this.#body, this.#bodyFilled, at, at + n);
      this.#bodyFilled += n;
      at += n;
      if (this.#bodyFilled === this.#body.length) {
        out.push({ payload: this.#body });
        this.#body = undefined;
        this.#bodyFilled = 0;
      }
    }
    return out;
  }
}
