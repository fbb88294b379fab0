/** Holes are left block by block: blocks of this many bytes, at offsets of the file that are multiples of it. */
const HOLE_BLOCK = 4096;
const ZEROS = Buffer.alloc(HOLE_BLOCK);

/**
 * The parts to write of a chunk that lies at `offset` of a new file, and whether any byte is left out. With `sparse`,
 * every block of zeros is left out (blocks are aligned to the file, so a skipped whole block is a hole the filesystem
 * need not allocate), and so are the partial blocks at the chunk's two ends when they are zeros: the neighbouring
 * chunk may hold the rest of the block, and what is never written of a new file reads back as zeros anyway. A caller
 * that left bytes out sets the file's size at the end. A chunk with no zero block is one part: for ordinary data the
 * first byte of each block ends its comparison. Without `sparse`, the whole chunk is one part.
 */
export function dataRuns(data: Buffer, offset: number, sparse: boolean): { runs: { from: number; to: number }[]; skipped: boolean } {
  if (!sparse) return { runs: [{ from: 0, to: data.length }], skipped: false };
  const runs: { from: number; to: number }[] = [];
  let runStart = -1;
  let skipped = false;
  let at = 0;
  while (at < data.length) {
    const end = Math.min(data.length, at + HOLE_BLOCK - ((offset + at) % HOLE_BLOCK));
    const zero = data.subarray(at, end).equals(ZEROS.subarray(0, end - at));
    if (zero) {
      skipped = true;
      if (runStart >= 0) runs.push({ from: runStart, to: at });
      runStart = -1;
    } else if (runStart < 0) runStart = at;
    at = end;
  }
  if (runStart >= 0) runs.push({ from: runStart, to: data.length });
  return { runs, skipped };
}
