// A scripted history for prune and retention tests: files changed, deleted and made again over days, committed with
// explicit times through one lane, and what a restore of every file gives as of a moment.
import { createHash } from "node:crypto";
import { LocalDirectoryStorage, loadTree, type IndexRecord, type StorageBackend } from "@rtbackup/core";
import { RepositoryV2, readBlobV2, type LaneWriter } from "@rtbackup/core/v2";

export const HOUR = 3_600_000;

/** A put of a file holding `text`, its blob stored unless the repository has it. */
export async function putFile(repo: RepositoryV2, path: string, text: string): Promise<IndexRecord> {
  const data = Buffer.from(text);
  const id = repo.cipher.blobId(data);
  await repo.packs.add(id, data);
  return { op: "put", path, type: "file", size: data.length, mtimeMs: 1_700_000_000_000, mode: 0o644, uid: 0, gid: 0, chunks: [id] };
}

/**
 * `days` days from `start`, a commit every 3 hours: three of ten files under /data change (their content names the
 * file and the commit, so each version is a new blob; every fourth version repeats an older content, so some blobs
 * are shared), and every 8th commit deletes one file, which the next commit makes again.
 */
export async function scriptedTimeline(storage: StorageBackend, start: number, days: number): Promise<{ repo: RepositoryV2; lane: LaneWriter; last: number }> {
  const repo = await RepositoryV2.create(storage);
  const lane = await repo.openLane("c".repeat(32), "host");
  let time = start;
  let n = 0;
  await lane.commit([{ op: "put", path: "/data", type: "dir", size: 0, mtimeMs: 0, mode: 0o755, uid: 0, gid: 0, chunks: [] }], { time });
  for (; time < start + days * 24 * HOUR; time += 3 * HOUR, n++) {
    const records: IndexRecord[] = [];
    for (let k = 0; k < 3; k++) {
      const f = (n * 3 + k) % 10;
      records.push(await putFile(repo, `/data/f${f}`, `file ${f} version ${n % 4 === 3 ? n - 3 : n}`));
    }
    if (n % 8 === 7) records.push({ op: "delete", path: `/data/f${(n + 5) % 10}` });
    await lane.commit(records, { time });
  }
  return { repo, lane, last: time - 3 * HOUR };
}

/** Every file's content as of `at` (SHA-256 of its bytes, by path), read and verified through the index. */
export async function stateAt(repo: RepositoryV2, at: number): Promise<Record<string, string>> {
  const tree = await loadTree(repo, { at });
  const out: Record<string, string> = {};
  for (const e of [...tree.entries.values()].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    if (e.type !== "file") {
      out[e.path] = e.type;
      continue;
    }
    const h = createHash("sha256");
    for (const id of e.chunks) h.update(await readBlobV2(repo, { blobs: tree.blobs! }, id));
    out[e.path] = h.digest("hex").slice(0, 16);
  }
  return out;
}

/** Every object of the store, with its size (a listing to compare). */
export async function listingOf(storage: StorageBackend): Promise<string[]> {
  const out: string[] = [];
  for await (const o of storage.list("")) out.push(`${o.key} ${o.size}`);
  return out;
}

/** A local-directory store whose credentials, it says, cannot delete. */
export class NoDeleteStorage extends LocalDirectoryStorage {
  async canDelete(): Promise<boolean> {
    return false;
  }
  override async delete(key: string): Promise<void> {
    throw new Error(`delete ${key}: refused (this key may not delete)`);
  }
}
