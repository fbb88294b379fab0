import { Readable } from "node:stream";
import { readAll } from "@rtbackup/core/testing";
import type { StorageBackend } from "@rtbackup/core";

/** One file of a generated tree: its key in the store and its bytes. */
export interface TreeFile {
  key: string;
  data: Buffer;
}

/** Deterministic pseudo-random bytes (so a failing run can be replayed). */
export function bytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}

/** A small tree: `small` files of 0–30 KB (one empty) and `large` files over the large-file threshold. */
export function makeTree(prefix: string, small: number, large: number, largeSize: number): TreeFile[] {
  const files: TreeFile[] = [];
  for (let i = 0; i < small; i++) {
    const size = i === 0 ? 0 : 200 + ((i * 7919) % 30_000);
    files.push({ key: `${prefix}dir${i % 3}/sub${i % 2}/file-${i}.dat`, data: bytes(size, i + 1) });
  }
  for (let i = 0; i < large; i++) {
    files.push({ key: `${prefix}big/image-${i}.img`, data: bytes(largeSize + i * 10_001, 1000 + i) });
  }
  return files;
}

/** A body factory that yields `data` in pieces of `piece` bytes, as a file read would. */
export function streamOf(data: Buffer, piece = 16 * 1024): () => Readable {
  return () =>
    Readable.from(
      (function* () {
        for (let i = 0; i < data.length; i += piece) yield data.subarray(i, i + piece);
      })(),
    );
}

/** Runs `work` over `items` with at most `limit` at a time; rejects with the first failure after all settle. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = await work(items[i]!, i);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure;
  return results;
}

/** Every key under `prefix`, in listing order. */
export async function listKeys(backend: StorageBackend, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of backend.list(prefix)) keys.push(info.key);
  return keys;
}

/** Reads a whole object. */
export async function getAll(backend: StorageBackend, key: string): Promise<Buffer> {
  return readAll(await backend.get(key));
}
