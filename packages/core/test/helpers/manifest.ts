import { createHash } from "node:crypto";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";

/**
 * Every entry under `root`, keyed by the hex of its path's bytes relative to `root` (so names that are not UTF-8
 * compare exactly): type, mode, and for files mtime, size and SHA-256, for symlinks the target's bytes. The v1
 * fixture's generator writes it as `expected.json`; its test compares a restore with it.
 */
export async function manifest(root: string | Buffer): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  async function visit(dir: Buffer, rel: string) {
    for (const raw of (await readdir(dir, { encoding: "buffer" })).sort(Buffer.compare)) {
      const p = Buffer.concat([dir, Buffer.from("/"), raw]);
      const key = `${rel}/${raw.toString("hex")}`;
      const st = await lstat(p);
      if (st.isDirectory()) {
        out[key] = { type: "dir", mode: st.mode & 0o7777 };
        await visit(p, key);
      } else if (st.isSymbolicLink()) out[key] = { type: "symlink", target: (await readlink(p, { encoding: "buffer" })).toString("hex") };
      else {
        const sha256 = createHash("sha256")
          .update(await readFile(p))
          .digest("hex");
        out[key] = { type: "file", mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs), size: st.size, sha256 };
      }
    }
  }
  await visit(Buffer.isBuffer(root) ? root : Buffer.from(root), "");
  return out;
}
