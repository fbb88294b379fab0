// A reader written from docs/format-v2.md alone (it imports nothing of core's reader: node's zlib and crypto, the
// zstd package, the local store's files) lists and restores a v2 repository that core wrote, byte for byte.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { decompress } from "zstd-napi";
import { LocalDirectoryStorage } from "@rtbackup/core";
import { RepositoryV2 } from "@rtbackup/core/v2";
import { backupTree } from "./helpers/v2writer.js";

type Rec = Record<string, any>;

/** The whole outsider reader: config, lanes merged by (time, lane, seq), records applied, blobs read by range. */
async function outsiderRead(root: string): Promise<Map<string, { entry: Rec; content?: Buffer }>> {
  const config = JSON.parse(await readFile(join(root, "config"), "utf8"));
  if (config.format !== "rtb-repository" || config.version !== 2 || config.encryption.mode !== "none") throw new Error("not a v2 repository I can read");
  const batches: { lane: string; seq: number; time: number; lines: Rec[] }[] = [];
  for (const lane of await readdir(join(root, "lanes"))) {
    let prev: string | null = null;
    const keys = (await readdir(join(root, "lanes", lane, "batch"), { recursive: true })).filter((k) => k.includes("-")).sort();
    for (const key of keys) {
      const [seq, time, digest] = key.split("/").pop()!.split("-");
      const bytes = await readFile(join(root, "lanes", lane, "batch", key));
      if (createHash("sha256").update(bytes).digest("hex") !== digest) throw new Error(`${key}: bad digest`);
      const [header, ...lines] = gunzipSync(bytes)
        .toString("utf8")
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l));
      if (header.v !== 2 || header.lane !== lane || header.seq !== Number(seq) || header.prev !== prev || header.count !== lines.length)
        throw new Error(`${key}: bad header`);
      prev = digest!;
      batches.push({ lane, seq: Number(seq), time: Number(time), lines });
    }
  }
  batches.sort((a, b) => a.time - b.time || (a.lane < b.lane ? -1 : a.lane > b.lane ? 1 : 0) || a.seq - b.seq);
  const tree = new Map<string, Rec>();
  const blobs = new Map<string, Rec>();
  for (const { lines } of batches) {
    for (const r of lines) {
      if (r.op === "blob") blobs.set(r.id, r);
      else if (r.op === "put") tree.set(r.path, r);
      else if (r.op === "delete")
        for (const p of [...tree.keys()])
          if (p === r.path || p.startsWith(`${r.path}/`)) tree.delete(p);
          else if (r.op === "move") throw new Error("this test writes no moves");
    }
  }
  const out = new Map<string, { entry: Rec; content?: Buffer }>();
  for (const [path, entry] of tree) {
    if (entry.type !== "file") {
      out.set(path, { entry });
      continue;
    }
    const parts: Buffer[] = [];
    for (const id of entry.chunks) {
      const b = blobs.get(id)!;
      const pack = await open(join(root, "packs", b.pack.slice(0, 2), b.pack));
      const stored = Buffer.alloc(b.length);
      await pack.read(stored, 0, b.length, b.offset);
      await pack.close();
      const raw = b.codec === "zstd" ? decompress(stored) : stored;
      if (raw.length !== b.size || createHash("sha256").update(raw).digest("hex") !== id) throw new Error(`blob ${id} is damaged`);
      parts.push(raw);
    }
    out.set(path, { entry, content: Buffer.concat(parts) });
  }
  return out;
}

test("an outsider's reader, written from the format document, restores what core wrote", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-v2-outsider-"));
  try {
    const src = join(dir, "src");
    await mkdir(join(src, "sub"), { recursive: true });
    const files: Record<string, Buffer> = {
      "text.txt": Buffer.from("some text that compresses well\n".repeat(500)),
      "random.bin": createHash("sha512").update("x").digest(),
      "sub/large.bin": Buffer.concat(
        Array.from({ length: 40 }, (_, i) => createHash("sha512").update(String(i)).digest()).map((h) => Buffer.concat(Array(200).fill(h))),
      ),
      "sub/empty": Buffer.alloc(0),
    };
    for (const [p, data] of Object.entries(files)) await writeFile(join(src, p), data);
    const storage = new LocalDirectoryStorage({ path: join(dir, "store") });
    const repo = await RepositoryV2.create(storage, { chunking: { minSize: 4096, avgSize: 16384, maxSize: 65536, seed: 0 }, packSize: 1 << 20 });
    const [one, two] = [await repo.openLane(), await repo.openLane()];
    await backupTree(repo, one, join(src, "sub"), new Set());
    await backupTree(repo, two, src, new Set());
    const read = await outsiderRead(join(dir, "store"));
    for (const [p, data] of Object.entries(files)) {
      const got = read.get(join(src, p));
      assert.ok(got?.content?.equals(data), p);
    }
    assert.is(read.get(join(src, "sub"))?.entry.type, "dir");
    assert.ok(read.get(join(src, "sub/large.bin"))!.entry.chunks.length > 3, "the large file is several content-defined chunks");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
