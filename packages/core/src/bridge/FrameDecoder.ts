/** What {@link FrameDecoder.push} found. */
export type DecodedFrame = { payload: Buffer } | { tooLarge: number };

/**
 * Splits a byte stream into length-prefixed frames (4-byte big-endian payload length, then the payload). It never
 * holds more than one frame plus its prefix: a prefix above `maxFrame` is reported before any of its payload is
 * buffered, and the stream cannot be resynchronised after that, so the caller closes the connection.
 */
export class FrameDecoder {
  readonly #maxFrame: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #failed = false;

  constructor(maxFrame: number) {
    this.#maxFrame = maxFrame;
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Feeds bytes; returns the complete frames they finish, in order (a `tooLarge` entry is always the last). */
  push(chunk: Buffer): DecodedFrame[] {
    if (this.#failed) return [];
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const out: DecodedFrame[] = [];
    for (;;) {
      if (this.#buffered < 4) break;
      const head = this.#peek(4);
      const length = head.readUInt32BE(0);
      if (length > this.#maxFrame) {
        this.#failed = true;
        this.#chunks = [];
        this.#buffered = 0;
        out.push({ tooLarge: length });
        break;
      }
      if (this.#buffered < 4 + length) break;
      const frame = this.#take(4 + length);
      out.push({ payload: frame.subarray(4) });
    }
    return out;
  }

  #peek(n: number): Buffer {
    if (this.#chunks[0]!.length < n) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0]!.subarray(0, n);
  }

  #take(n: number): Buffer {
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    const frame = Buffer.from(all.subarray(0, n));
    const rest = all.subarray(n);
    this.#chunks = rest.length ? [rest] : [];
    this.#buffered = rest.length;
    return frame;
  }
}
