import binding from "zstd-napi/binding.js";

/** How a blob's bytes are stored in a pack: one zstd frame, or the bytes themselves. */
export type BlobCodec = "zstd" | "none";

/**
 * zstd level for new blobs. Level 1 measured here: a third faster than level 3 on text and on incompressible bytes,
 * for 2% more stored bytes on a home-like tree (bench "mixed").
 */
export const ZSTD_LEVEL = 1;

/** Blobs larger than this are probed first: their first {@link PROBE_BYTES} bytes are compressed on their own. */
const PROBE_FROM = 256 * 1024;
const PROBE_BYTES = 64 * 1024;

let compressor: InstanceType<typeof binding.CCtx> | undefined;
let probeOut: Buffer | undefined;
/** Where frames are written before they are copied to where they are kept (grown to the largest bound asked). */
let scratch: Buffer | undefined;

/**
 * The stored form of `raw`: one zstd frame when that is smaller, otherwise `raw` itself (already compressed media).
 * A large blob whose first 64 KiB do not shrink by 2% is stored as it is without compressing the rest: zstd spends
 * as long on incompressible bytes as on text, for nothing.
 *
 * A frame is written into one scratch buffer kept for the process, and `stored` is a view of it that the next call
 * overwrites: the caller copies it to where it is kept. The scratch is memory already touched; a frame written into
 * fresh memory pays a page fault per 4 KiB, which here costs several times the compression itself.
 */
export function compress(raw: Uint8Array): { codec: BlobCodec; stored: Uint8Array } {
  if (raw.length >= 64) {
    compressor ??= new binding.CCtx();
    if (raw.length > PROBE_FROM) {
      probeOut ??= Buffer.allocUnsafeSlow(binding.compressBound(PROBE_BYTES));
      if (compressor.compress(probeOut, raw.subarray(0, PROBE_BYTES), ZSTD_LEVEL) > PROBE_BYTES * 0.98) return { codec: "none", stored: raw };
    }
    const bound = binding.compressBound(raw.length);
    if (!scratch || scratch.length < bound) scratch = Buffer.allocUnsafeSlow(bound);
    const length = compressor.compress(scratch, raw, ZSTD_LEVEL);
    if (length < raw.length) return { codec: "zstd", stored: scratch.subarray(0, length) };
  }
  return { codec: "none", stored: raw };
}

/** `raw` in its stored form ({@link compress}), in a buffer of its own. */
export function compressBlob(raw: Uint8Array): { codec: BlobCodec; stored: Buffer } {
  const { codec, stored } = compress(raw);
  return { codec, stored: Buffer.from(stored) };
}

let context: InstanceType<typeof binding.DCtx> | undefined;

/**
 * Decompresses one zstd frame into exactly `size` bytes. Output never goes past `size`: a frame that claims or
 * produces more (a hostile or damaged blob) fails instead of allocating what it asks for.
 */
export function decompressBlob(stored: Buffer, size: number, id: string): Buffer {
  context ??= new binding.DCtx();
  const out = Buffer.allocUnsafe(size);
  let written: number;
  try {
    written = context.decompress(out, stored);
  } catch (err) {
    throw new Error(`blob ${id}: its zstd frame does not decompress into ${size} bytes (${(err as Error).message})`);
  }
  if (written !== size) throw new Error(`blob ${id}: its zstd frame decompresses to ${written} bytes, expected ${size}`);
  return out;
}
