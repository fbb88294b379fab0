// Reads of a sparse file that skip its holes: where the filesystem says (SEEK_DATA/SEEK_HOLE) no data lies, the
// bytes are zeros without a read. The content, its chunks and their ids are the same as a plain read gives.
import type { FileHandle } from "node:fs/promises";
import type { Stats } from "node:fs";
import { dataExtents, type Extent } from "@rtbackup/linux-fs";

/** One positioned read into `buffer[offset, offset + length)`: the bytes placed (0 at the end of the file). */
export type ReadAt = (buffer: Buffer, offset: number, length: number, position: number) => Promise<number>;

/** Holes and data are looked up only for files with fewer blocks allocated than their size, and at most this many runs. */
const MAX_RUNS = 65536;

/**
 * A {@link ReadAt} for `handle`: a plain read, except for a file with fewer bytes allocated than its size (it has
 * holes, or is compressed), whose holes are filled with zeros instead of read. Past the size seen at the start the
 * file is read as usual, so growth is still noticed. A filesystem that cannot tell where data lies reads whole.
 */
export async function readerOf(handle: FileHandle, stats: Pick<Stats, "size" | "blocks">): Promise<ReadAt> {
  const plain: ReadAt = async (buffer, offset, length, position) => (await handle.read(buffer, offset, length, position)).bytesRead;
  if (stats.blocks * 512 >= stats.size) return plain;
  let extents: Extent[] | undefined;
  try {
    extents = await dataExtents(handle.fd, stats.size, MAX_RUNS);
  } catch {
    extents = undefined;
  }
  if (!extents) return plain;
  const runs = extents;
  const size = stats.size;
  let next = 0;
  return async (buffer, offset, length, position) => {
    if (position >= size || length === 0) return plain(buffer, offset, length, position);
    // Reads go forward; the first run that ends after `position` is at or after the last one used.
    if (next > 0 && (runs[next - 1]?.end ?? 0) > position) next = 0;
    while (next < runs.length && runs[next]!.end <= position) next++;
    const run = runs[next];
    if (!run || run.start > position) {
      const n = Math.min(length, (run?.start ?? size) - position);
      buffer.fill(0, offset, offset + n);
      return n;
    }
    return plain(buffer, offset, Math.min(length, run.end - position), position);
  };
}
