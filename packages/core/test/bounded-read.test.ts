// Bounded reading of index objects: a small gzip "bomb" (about 3 MB that inflates to 3 GiB, one huge line) stored as
// a batch or as a checkpoint is refused as a corrupt object named in the error, with modest memory, instead of being
// inflated whole (before: a V8 fatal error at several GB of RSS for a 3 GiB line). Each read runs in a child process
// so its peak RSS is its own.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { LocalDirectoryStorage, Repository, batchKey, checkpointKey } from "@rtbackup/core";

/**
 * gzip of `head`, then `size` bytes of "a", then `tail`: concatenated gzip members (one stream to a reader), the
 * repeated middle compressed once, so a GiB-sized bomb costs milliseconds and never a GiB of memory to build.
 */
function bomb(head: string, size: number, tail: string): Buffer {
  const block = 64 << 20;
  const full = gzipSync(Buffer.alloc(Math.min(block, size), 97), { level: 9 });
  const parts = [gzipSync(head)];
  for (let left = size; left > 0; left -= block) parts.push(left >= block ? full : gzipSync(Buffer.alloc(left, 97), { level: 9 }));
  parts.push(gzipSync(tail));
  return Buffer.concat(parts);
}

/** Reads the tree in a child process; returns its error message and its peak RSS in MiB. */
function readInChild(store: string): Promise<{ error?: string; entries?: number; maxRssMiB: number }> {
  const script = `
    import { LocalDirectoryStorage, Repository, loadTree } from "@rtbackup/core";
    let out;
    try {
      const tree = await loadTree(await Repository.open(new LocalDirectoryStorage({ path: ${JSON.stringify(store)} })));
      // A damaged checkpoint is not fatal (the tree is rebuilt from the batches): report its damage as the error.
      out = tree.damage.length ? { error: tree.damage.map((d) => d.message).join("; ") } : { entries: tree.entries.size };
    } catch (err) {
      out = { error: String(err && err.message) };
    }
    out.maxRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
    process.stdout.write(JSON.stringify(out));
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: import.meta.dirname, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      try {
        resolve(JSON.parse(stdout));
      } catch {
        reject(new Error(`reader exited ${code} without a result: ${stderr.slice(-2000)}`));
      }
    });
  });
}

async function storeWith(kind: "batch" | "checkpoint", body: Buffer): Promise<{ dir: string; key: string }> {
  const dir = await mkdtemp(join(tmpdir(), "rtb-bomb-"));
  const storage = new LocalDirectoryStorage({ path: dir });
  await Repository.open(storage, { create: { chunkSize: 65536 } });
  const digest = createHash("sha256").update(body).digest("hex");
  const key = kind === "batch" ? batchKey(0, 1_795_000_000_000, digest) : checkpointKey(0, 1_795_000_000_000, digest);
  await mkdir(dirname(join(dir, key)), { recursive: true });
  await writeFile(join(dir, key), body);
  return { dir, key };
}

const GiB = 1024 * 1024 * 1024;

test("a batch that inflates to 3 GiB is refused as corrupt, by name, with modest memory", async () => {
  const body = bomb(`{"v":1,"kind":"batch","seq":0,"time":1795000000000,"count":1}\n{"op":"put","path":"/`, 3 * GiB, `"}\n`);
  assert.ok(body.length < 4 * 1024 * 1024, `the bomb is small (${body.length} bytes)`);
  const { dir, key } = await storeWith("batch", body);
  try {
    const r = await readInChild(dir);
    assert.ok(r.error, `the read fails: ${JSON.stringify(r)}`);
    assert.match(r.error!, key);
    assert.match(r.error!, /decompresses to more than 268435456 bytes/);
    assert.ok(r.maxRssMiB < 900, `peak RSS ${r.maxRssMiB} MiB`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a checkpoint with a 3 GiB line is refused as corrupt, by name, without buffering the line", async () => {
  const body = bomb(`{"v":1,"kind":"checkpoint","seq":0,"time":1795000000000,"count":1}\n{"op":"put","path":"/`, 3 * GiB, `"}\n`);
  const { dir, key } = await storeWith("checkpoint", body);
  try {
    const r = await readInChild(dir);
    assert.ok(r.error, `the read fails: ${JSON.stringify(r)}`);
    assert.match(r.error!, key);
    assert.match(r.error!, /a line is longer than 67108864 bytes/);
    assert.ok(r.maxRssMiB < 600, `peak RSS ${r.maxRssMiB} MiB`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a checkpoint whose lines outnumber its header's count is refused at the first extra line", async () => {
  const lines = [`{"v":1,"kind":"checkpoint","seq":0,"time":1795000000000,"count":1}`];
  for (let i = 0; i < 3; i++)
    lines.push(JSON.stringify({ op: "put", path: `/f${i}`, type: "dir", size: 0, mtimeMs: 1, mode: 493, uid: 0, gid: 0, chunks: [] }));
  const body = bomb(`${lines.join("\n")}\n`, 0, "");
  const { dir, key } = await storeWith("checkpoint", body);
  try {
    const r = await readInChild(dir);
    assert.ok(r.error, `the read fails: ${JSON.stringify(r)}`);
    assert.match(r.error!, key);
    assert.match(r.error!, /more entries than the 1 its header says/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
