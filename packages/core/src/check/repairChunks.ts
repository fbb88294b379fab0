import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { isErrno, messageOf } from "../errors.js";
import { fsPath } from "../fsNames.js";
import { dataKey, sha256Hex } from "../repository/format.js";
import type { Repository } from "../repository/Repository.js";
import type { StateCache } from "../state/StateCache.js";
import type { FileEntry } from "../types.js";
import type { CheckOutcome } from "./checkRepository.js";

/** A chunk `repairChunks` stored again, and the file its bytes came from. */
export interface RepairedChunk {
  chunk: string;
  key: string;
  from: string;
}

/** A damaged chunk no file on disk could supply. */
export interface UnrepairedChunk {
  chunk: string;
  key: string;
  reason: string;
  /** Current paths whose content needs it (recorded in the state cache for the next backup). */
  paths: string[];
}

/** Options of {@link repairChunks}. */
export interface RepairOptions {
  /** The state cache of this repository: unrepaired damage is recorded there so the next backup heals what it can. */
  cache?: StateCache;
}

/** Result of {@link repairChunks}. */
export interface RepairResult {
  repaired: RepairedChunk[];
  left: UnrepairedChunk[];
  /** What was recorded in the state cache (chunk ids forgotten, paths marked to be read again); absent without one. */
  recorded?: { chunks: number; paths: number };
}

/** Reads `length` bytes at `offset` of a regular file, never following a symlink; `undefined` when it cannot. */
async function readRegion(path: string, offset: number, length: number): Promise<Buffer | undefined> {
  let handle;
  try {
    handle = await open(fsPath(path), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (isErrno(err, "ENOENT", "ENOTDIR", "ELOOP", "EACCES", "EPERM", "ENXIO")) return undefined;
    throw err;
  }
  try {
    if (!(await handle.stat()).isFile()) return undefined;
    const buffer = Buffer.alloc(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  } finally {
    await handle.close();
  }
}

/**
 * `rtb check --repair`: for each missing or corrupt chunk, looks for its bytes in the current files that name it (in
 * the replayed tree and in the state cache), at the chunk's offset (chunk index × the repository's chunk size, as
 * the backup cut them) and length. Bytes whose
 * SHA-256 is the chunk id are stored again with {@link Repository.putChunk} and read back verified; a file that
 * changed is never a source. What no file supplies is recorded in the state cache (the chunk is no longer believed
 * stored, the paths are read again by the next scan), so the next backup uploads whatever content still exists.
 * Nothing is ever deleted from the store.
 */
export async function repairChunks(repo: Repository, outcome: CheckOutcome, options: RepairOptions = {}): Promise<RepairResult> {
  const chunkSize = repo.config.chunkSize;
  const damaged = new Map<string, string>();
  for (const d of outcome.damage) if ((d.kind === "chunk-missing" || d.kind === "chunk-corrupt") && d.chunk) damaged.set(d.chunk, d.key ?? dataKey(d.chunk));
  // Where the bytes may still be: current files of the replayed tree, and of the state cache (which knows the newest
  // tree even when index damage cut the replay short). Each names the chunk's offset and length in the file.
  const candidates = new Map<string, { path: string; offset: number; length: number }[]>();
  const seen = new Set<string>();
  const consider = (entry: FileEntry) => {
    if (entry.type !== "file") return;
    entry.chunks.forEach((id, index) => {
      if (!damaged.has(id) || seen.has(`${entry.path}\0${index}`)) return;
      seen.add(`${entry.path}\0${index}`);
      const offset = index * chunkSize;
      const list = candidates.get(id) ?? [];
      list.push({ path: entry.path, offset, length: Math.max(0, Math.min(chunkSize, entry.size - offset)) });
      candidates.set(id, list);
    });
  };
  if (damaged.size) {
    for (const entry of outcome.tree.values()) consider(entry);
    if (options.cache) for (const entry of options.cache.entries()) consider(entry);
  }
  const result: RepairResult = { repaired: [], left: [] };
  for (const [id, key] of damaged) {
    const sources = candidates.get(id) ?? [];
    let reason = sources.length
      ? `its bytes are no longer in ${sources.length === 1 ? "the file" : `any of the ${sources.length} files`} that held it`
      : "no current file holds it";
    let healed: string | undefined;
    for (const { path, offset, length } of sources) {
      if (length === 0) continue;
      const data = await readRegion(path, offset, length);
      if (!data || sha256Hex(data) !== id) continue;
      try {
        await repo.putChunk(id, data);
        await repo.storage.sync?.();
        await repo.getChunk(id);
        healed = path;
        break;
      } catch (err) {
        reason = `storing it again failed: ${messageOf(err)}`;
      }
    }
    if (healed !== undefined) result.repaired.push({ chunk: id, key, from: healed });
    else result.left.push({ chunk: id, key, reason, paths: [...new Set(sources.map((s) => s.path))] });
  }
  if (options.cache && result.left.length) {
    result.recorded = await options.cache.markDamaged(
      result.left.map((l) => l.chunk),
      result.left.flatMap((l) => l.paths),
    );
  } else if (options.cache) result.recorded = { chunks: 0, paths: 0 };
  return result;
}
