// A minimal v2 writer for tests: walks a tree, cuts files with the repository's chunker, stores new blobs in packs
// and commits one batch of puts through a lane. The agent's own v2 writer will be the pipeline; this is not it.
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import type { IndexRecord } from "@rtbackup/core";
import type { LaneWriter, RepositoryV2 } from "@rtbackup/core/v2";

/** Puts of every entry under `root` (the root included), content stored in packs unless `known` has it. */
export async function putTree(repo: RepositoryV2, root: string, known: Set<string>): Promise<IndexRecord[]> {
  const records: IndexRecord[] = [];
  async function visit(path: string) {
    const st = await lstat(path);
    const base = { path, size: 0, mtimeMs: st.mtimeMs, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, chunks: [] as string[] };
    if (st.isSymbolicLink()) {
      const target = await readlink(path);
      records.push({ op: "put", ...base, type: "symlink", size: Buffer.byteLength(target), target });
    } else if (st.isDirectory()) {
      records.push({ op: "put", ...base, type: "dir" });
      for (const name of (await readdir(path)).sort()) await visit(join(path, name));
    } else if (st.isFile()) {
      const data = await readFile(path);
      const chunks: string[] = [];
      let at = 0;
      for (const n of repo.chunker.lengths(data)) {
        const blob = data.subarray(at, at + n);
        at += n;
        const id = repo.cipher.blobId(blob);
        chunks.push(id);
        if (!known.has(id)) await repo.packs.add(id, blob);
        known.add(id);
      }
      records.push({ op: "put", ...base, type: "file", size: data.length, chunks });
    }
  }
  await visit(root);
  return records;
}

/** Backs up `root` through `lane` as one batch. */
export async function backupTree(repo: RepositoryV2, lane: LaneWriter, root: string, known: Set<string>) {
  return (await lane.commit(await putTree(repo, root, known))).name;
}
