import { StorageError, messageOf } from "../errors.js";
import { dataKey } from "../repository/format.js";
import type { Repository } from "../repository/Repository.js";
import type { Damage } from "./CheckReport.js";
import type { ReadDataSubset } from "./ReadDataSubset.js";

/** Options of {@link checkContent}. */
export interface CheckContentOptions {
  /** Download and re-hash every referenced chunk the listing shows (or those in `subset`). */
  readData?: boolean;
  subset?: ReadDataSubset;
  /** Downloads at once (default 4). */
  concurrency?: number;
  /** Called after each chunk read, for progress. */
  onRead?: (done: number, total: number) => void;
}

/** Result of {@link checkContent}. */
export interface ContentCheck {
  /** `chunk-missing` and `chunk-corrupt` damage, without dependents yet. */
  damage: Damage[];
  chunksPresent: number;
  chunksRead: number;
  bytesRead: number;
  orphans: number;
  orphanBytes: number;
}

/**
 * Checks that every content id the index names is stored: one listing of `data/` (paginated and cheap on every
 * backend, never one `head` per chunk). A listed object whose size differs from what the index implies (or exceeds
 * the chunk size) is corrupt without being read. With `readData`, every referenced chunk present (or the `subset`)
 * is downloaded and re-hashed by {@link Repository.getChunk}. Objects under `data/` that nothing names are orphans:
 * counted, not damage.
 */
export async function checkContent(repo: Repository, referenced: ReadonlyMap<string, number>, options: CheckContentOptions = {}): Promise<ContentCheck> {
  const result: ContentCheck = { damage: [], chunksPresent: 0, chunksRead: 0, bytesRead: 0, orphans: 0, orphanBytes: 0 };
  const base = `${repo.prefix}data/`;
  const present = new Map<string, number>();
  for await (const info of repo.storage.list(base)) {
    const id = info.key.slice(info.key.lastIndexOf("/") + 1);
    if (/^[0-9a-f]{64}$/.test(id) && info.key === repo.prefix + dataKey(id) && referenced.has(id)) present.set(id, info.size);
    else {
      result.orphans++;
      result.orphanBytes += info.size;
    }
  }
  const corrupt = (id: string, why: string) => {
    result.damage.push({ kind: "chunk-corrupt", key: dataKey(id), chunk: id, message: `content object ${dataKey(id)} is corrupt: ${why}` });
  };
  const toRead: string[] = [];
  for (const [id, expected] of referenced) {
    const size = present.get(id);
    if (size === undefined) {
      result.damage.push({ kind: "chunk-missing", key: dataKey(id), chunk: id, message: `content object ${dataKey(id)} is missing` });
      continue;
    }
    result.chunksPresent++;
    if (size > repo.config.chunkSize || (expected >= 0 && size !== expected)) {
      corrupt(id, `it has ${size} bytes, the index says ${expected >= 0 ? expected : `at most ${repo.config.chunkSize}`}`);
      continue;
    }
    if (options.readData && (!options.subset || options.subset.includes(id))) toRead.push(id);
  }
  let next = 0;
  const worker = async () => {
    while (next < toRead.length) {
      const id = toRead[next++]!;
      try {
        const data = await repo.getChunk(id);
        result.bytesRead += data.length;
      } catch (err) {
        if (!(err instanceof StorageError) || err.code === "STORAGE_FAILED") throw err;
        if (err.code === "STORAGE_NOT_FOUND") {
          result.damage.push({ kind: "chunk-missing", key: dataKey(id), chunk: id, message: `content object ${dataKey(id)} is missing (listed, then gone)` });
        } else corrupt(id, messageOf(err).replace(/^content object \S+ is corrupt: /, ""));
      }
      result.chunksRead++;
      options.onRead?.(result.chunksRead, toRead.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  return result;
}
