import { closeSync, openSync, readSync, statSync } from "node:fs";
import { rename, rm } from "node:fs/promises";

/**
 * Why `file` is not an LMDB file (its size, or the magic number of its two meta pages), or undefined if it is or is
 * absent. LMDB trusts its file, and opening garbage can crash the process (SIGSEGV), so every cache this project keeps
 * in LMDB is checked with this before it is opened.
 */
export function notLmdb(file: string): string | undefined {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return undefined;
  }
  if (size < 2 * 4096 || size % 4096 !== 0) return `${file} is ${size} bytes, not a whole number of LMDB pages`;
  const fd = openSync(file, "r");
  try {
    const magicAt = (offset: number) => {
      const b = Buffer.alloc(4);
      return readSync(fd, b, 0, 4, offset) === 4 && b.readUInt32LE(0) === 0xbeefc0de;
    };
    // Each meta page holds the magic 0xBEEFC0DE after the 16-byte page header and 8 bytes of the meta's own; the
    // second meta page is the second page, whose size is the system's (4 KiB here, up to 64 KiB elsewhere).
    const second = [4096, 8192, 16384, 65536].some((p) => size >= 2 * p && magicAt(p + 24));
    if (!magicAt(24) || !second) return `${file} has no LMDB meta pages`;
  } finally {
    closeSync(fd);
  }
  return undefined;
}

/** Moves `file` aside (to `<file>.damaged-<time>`, kept for a look) when it is not an LMDB file; says why and where, if it did. */
export async function moveAsideIfDamaged(file: string): Promise<string | undefined> {
  const damaged = notLmdb(file);
  if (damaged === undefined) return undefined;
  const aside = `${file}.damaged-${Date.now()}`;
  await rename(file, aside);
  await rm(`${file}-lock`, { force: true });
  return `${damaged}: moved aside to ${aside}`;
}
