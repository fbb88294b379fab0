import { createHash } from "node:crypto";

/** How content is cut (the `chunking` of a v2 repository config, docs/format-v2.md "Chunks"). */
export interface CdcParams {
  /** No cut in a chunk's first `minSize` bytes; a file of at most this many bytes is one chunk. */
  readonly minSize: number;
  /** The size chunks cluster around (normalised chunking). */
  readonly avgSize: number;
  /** A chunk ends here whatever the hash says. */
  readonly maxSize: number;
  /** Selects the gear table (0 to 2^32 - 1). */
  readonly seed: number;
}

/** The parameters of new repositories: 256 KiB / 1 MiB / 4 MiB, seed 0. */
export const DEFAULT_CDC: CdcParams = { minSize: 256 * 1024, avgSize: 1024 * 1024, maxSize: 4 * 1024 * 1024, seed: 0 };

const isPowerOfTwo = (n: number) => Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** Why `p` is not a valid chunking, or undefined. */
export function cdcParamsProblem(p: CdcParams): string | undefined {
  if (![p.minSize, p.avgSize, p.maxSize].every(isPowerOfTwo)) return "minSize, avgSize and maxSize must be powers of two";
  if (!(p.minSize >= 4096 && p.minSize < p.avgSize && p.avgSize < p.maxSize && p.maxSize <= 16 * 1024 * 1024)) {
    return "expected 4096 ≤ minSize < avgSize < maxSize ≤ 16777216";
  }
  if (!Number.isSafeInteger(p.seed) || p.seed < 0 || p.seed > 0xffffffff) return "seed must be an integer from 0 to 4294967295";
  return undefined;
}

/** `GEAR[i]` = the first 4 bytes (big-endian) of SHA-256("rtb-fastcdc-gear" ‖ seed ‖ i), seed and i 4-byte big-endian. */
export function gearTable(seed: number): Int32Array {
  const table = new Int32Array(256);
  const tail = Buffer.alloc(8);
  tail.writeUInt32BE(seed >>> 0, 0);
  for (let i = 0; i < 256; i++) {
    tail.writeUInt32BE(i, 4);
    table[i] = createHash("sha256").update("rtb-fastcdc-gear").update(tail).digest().readInt32BE(0);
  }
  return table;
}

/** The `bits` most significant bits of a 32-bit word (as a signed 32-bit pattern). */
function highBits(bits: number): number {
  return bits >= 32 ? -1 : ((2 ** bits - 1) * 2 ** (32 - bits)) | 0;
}

/** The end of the chunk whose first hashed byte is `from` (see {@link gearLoop}). */
type FindCut = (data: Uint8Array, from: number, normal: number, last: number) => number;

/**
 * The gear-hash loop, made once per chunking as a closure over its table and masks. V8 treats the captured values
 * as constants: measured here, about 1.6× the speed of the same loop taking them as arguments or from fields.
 */
function gearLoop(gear: Int32Array, maskS: number, maskL: number): FindCut {
  return (data, from, normal, last) => {
    let h = 0;
    let i = from;
    for (; i < normal; i++) {
      h = ((h << 1) + gear[data[i]!]!) | 0;
      if ((h & maskS) === 0) return i + 1;
    }
    for (; i < last; i++) {
      h = ((h << 1) + gear[data[i]!]!) | 0;
      if ((h & maskL) === 0) return i + 1;
    }
    return last;
  };
}

/**
 * FastCDC (normalised chunking, level 2) over a 32-bit gear hash, as docs/format-v2.md specifies: the cut points
 * depend only on the bytes since the previous cut, so an insertion changes the chunks around it and the later cuts
 * fall on the same content again.
 */
export class FastCdc {
  readonly params: CdcParams;
  readonly #findCut: FindCut;

  constructor(params: CdcParams = DEFAULT_CDC) {
    const problem = cdcParamsProblem(params);
    if (problem) throw new RangeError(`invalid chunking: ${problem}`);
    this.params = params;
    const bits = Math.log2(params.avgSize);
    this.#findCut = gearLoop(gearTable(params.seed), highBits(bits + 2), highBits(bits - 2));
  }

  /**
   * The length of the chunk that starts at `start` in `data[start, end)`. The caller must give at least `maxSize`
   * bytes (or everything that is left, at the end of the content): with fewer, the chunk may be longer than what
   * was given, and the answer is `end - start`.
   */
  cut(data: Uint8Array, start = 0, end = data.length): number {
    const { minSize, avgSize, maxSize } = this.params;
    const available = end - start;
    if (available <= minSize) return available;
    const normal = start + Math.min(avgSize, available);
    const last = start + Math.min(maxSize, available);
    return this.#findCut(data, start + minSize, normal, last) - start;
  }

  /** Every chunk length of a whole buffer, in order. */
  lengths(data: Uint8Array): number[] {
    const out: number[] = [];
    for (let at = 0; at < data.length;) {
      const n = this.cut(data, at);
      out.push(n);
      at += n;
    }
    return out;
  }

  /**
   * Cuts a stream of buffers (a file read in blocks) into chunks, yielding each chunk as one Buffer. Holds at most
   * about `maxSize` plus one block.
   */
  async *chunks(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
    const maxSize = this.params.maxSize;
    let parts: Uint8Array[] = [];
    let total = 0;
    for await (const block of source) {
      parts.push(block);
      total += block.length;
      if (total < maxSize) continue;
      // Joined once per maxSize of input: every byte is copied about once, whatever the block size.
      const joined = Buffer.concat(parts, total);
      let at = 0;
      while (joined.length - at >= maxSize) {
        const n = this.cut(joined, at);
        yield joined.subarray(at, at + n);
        at += n;
      }
      parts = at < joined.length ? [joined.subarray(at)] : [];
      total = joined.length - at;
    }
    const rest = Buffer.concat(parts, total);
    for (let at = 0; at < rest.length;) {
      const n = this.cut(rest, at);
      yield rest.subarray(at, at + n);
      at += n;
    }
  }
}
