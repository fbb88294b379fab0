/** Holes are left block by block: blocks of this many bytes, at offsets of the file that are multiples of it. */
const HOLE_BLOCK = 4096;
const ZEROS = Buffer.alloc(HOLE_BLOCK);

/**
 * The parts to write of a chunk that lies at `offset` of a new file: every block of zeros is left out (blocks are
 * aligned to the file, so a skipped whole block is a hole the filesystem need not allocate). The partial blocks at
 * the chunk's two ends are left out too when they are zeros: the neighbouring chunk may hold the rest of the block,
 * and what is never written of a new file reads back as zeros anyway (the caller sets the size at the end). A chunk
 * with no zero block is one part: for ordinary data the first byte of each block ends its comparison.
 */
export function dataRuns(data: Buffer, offset: number): { from: number; to: number }[] {
  const runs: { from: number; to: number }[] = [];
  let runStart = -1;
  let at = 0;
  while (at < data.length) {
    const end = Math.min(data.length, at + HOLE_BLOCK - ((offset + at) % HOLE_BLOCK));
    const zero = data.subarray(at, end).equals(ZEROS.subarray(0, end - at));
    if (zero && runStart >= 0) {
      runs.push({ from: runStart, to: at });
      runStart = -1;
    } else if (!zero && runStart < 0) runStart = at;
    at = end;
  }
  if (runStart >= 0) runs.push({ from: runStart, to: data.length });
  return runs;
}
