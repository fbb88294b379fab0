/**
 * Buffers of one size, handed back when their user is done with them, so that memory already touched is used again.
 * A buffer from `Buffer.allocUnsafeSlow` is fresh memory from the system, and the first write to each 4 KiB page of
 * it is a page fault; measured here, filling fresh memory costs about 3 ms per MiB, several times what compressing or
 * hashing it costs. Packs and large reads cycle through tens of MiB per second, so they take from a pool.
 *
 * At most `keep` free buffers are kept; beyond that a buffer given back is left to the garbage collector. A buffer
 * must be given back only when nothing will read or write it again.
 */
export class BufferPool {
  /** Bytes in each buffer. */
  readonly size: number;
  readonly #keep: number;
  readonly #free: Buffer[] = [];

  constructor(size: number, keep: number) {
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`a pool's buffer size must be a whole number of bytes, not ${size}`);
    this.size = size;
    this.#keep = keep;
  }

  /** Free buffers held now. */
  get free(): number {
    return this.#free.length;
  }

  /** A buffer of {@link size} bytes, with whatever it held before. */
  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  /** Gives a buffer from {@link take} back. Anything else (a view, another size, one already given) is ignored. */
  give(buffer: Buffer): void {
    if (buffer.length !== this.size || buffer.byteOffset !== 0 || buffer.buffer.byteLength !== this.size) return;
    if (this.#free.length >= this.#keep || this.#free.includes(buffer)) return;
    this.#free.push(buffer);
  }
}
