import { compress } from "zstd-napi";
import binding from "zstd-napi/binding.js";

/** How a blob's bytes are stored in a pack: one zstd frame, or the bytes themselves. */
export type BlobCodec = "zstd" | "none";

/** zstd level for new blobs: fast (hundreds of MB/s per core on incompressible data) with most of the gain. */
export const ZSTD_LEVEL = 3;

/** Blobs larger than this are probed first: their first {@link PROBE_BYTES} bytes are compressed on their own. */
const PROBE_FROM = 256 * 1024;
const PROBE_BYTES = 64 * 1024;

/**
 * `raw` compressed with zstd when that makes it smaller; otherwise stored as it is (already compressed media). A
 * large blob whose first 64 KiB do not shrink by 2% is stored as it is without compressing the rest: zstd spends
 * as long on incompressible bytes as on text, for nothing.
 */
export function compressBlob(raw: Uint8Array): { codec: BlobCodec; stored: Buffer } {
  if (raw.length < 64) return { codec: "none", stored: Buffer.from(raw) };
  if (raw.length > PROBE_FROM && compress(raw.subarray(0, PROBE_BYTES), { compressionLevel: ZSTD_LEVEL }).length > PROBE_BYTES * 0.98) {
    return { codec: "none", stored: Buffer.from(raw) };
  }
  const packed = compress(raw, { compressionLevel: ZSTD_LEVEL });
  return packed.length < raw.length ? { codec: "zstd", stored: packed } : { codec: "none", stored: Buffer.from(raw) };
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
