// Salvage at record level, through the rtb binary: one refused record leaves the rest of its batch listed, and a
// 3 MB batch that inflates to a 3 GiB line is a clear message naming the object, with modest memory (before: a V8
// fatal error at several GB of RSS).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { LocalDirectoryStorage, Repository, batchKey, type IndexRecord } from "@rtbackup/core";
import { RTB, rtb } from "./helpers/daemon.js";

const T = 1_795_000_000_000;
const put = (path: string, extra: Record<string, unknown> = {}) =>
  ({ op: "put", path, type: "file", size: 0, mtimeMs: T, mode: 0o644, uid: 0, gid: 0, chunks: [], ...extra }) as IndexRecord;

/** A store with the given batches (batch i at number i), and the rtb arguments that read it. */
async function storeWith(dir: string, batches: IndexRecord[][]): Promise<{ store: string; args: string[]; keys: string[] }> {
  const store = join(dir, "store");
  const repo = await Repository.open(new LocalDirectoryStorage({ path: store }), { create: { chunkSize: 65536 } });
  const keys: string[] = [];
  for (const [i, records] of batches.entries()) keys.push(await repo.writeBatch(i, T + i, records));
  const config = join(dir, "rtb.config.json");
  await writeFile(config, JSON.stringify({ parameters: { monitorFileSystemTypes: ["tmpfs"] } }));
  return { store, args: ["--config", config, "--store", store, "--state", join(dir, "state")], keys };
}

test("a refused record: list names its object and record, lists the batch's other records, exits 4", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-salvage-"));
  try {
    const { args, keys } = await storeWith(dir, [
      [put("/data/a"), put("/data/b")],
      [put("/data/b", { uid: 2 ** 32 }), put("/data/c")],
    ]);
    const list = await rtb(["list", "-r", "/data", ...args]);
    assert.is(list.code, 4, list.stderr);
    assert.match(list.stderr, `index batch ${keys[1]} record 1 is refused`);
    assert.match(list.stderr, /uid 4294967296/);
    // The batch's other record is applied; the refused one leaves the older version of /data/b.
    for (const p of ["/data/a", "/data/b", "/data/c"]) assert.match(list.stdout, p);

    const json = await rtb(["list", "-r", "/data", "--json", ...args]);
    assert.is(json.code, 4, json.stderr);
    const events = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const damage = events.filter((e) => e.event === "damage");
    assert.is(damage.length, 1, json.stdout);
    assert.is(damage[0]!.key, keys[1]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** Runs rtb, sampling its peak RSS (VmHWM) from /proc until it exits. */
function rtbPeak(args: string[]): Promise<{ code: number | null; stderr: string; peakMiB: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RTB, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    let peakKiB = 0;
    child.stderr.on("data", (d) => (stderr += d));
    const sample = setInterval(() => {
      readFile(`/proc/${child.pid}/status`, "utf8")
        .then((s) => (peakKiB = Math.max(peakKiB, Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0))))
        .catch(() => undefined);
    }, 5);
    child.on("close", (code) => {
      clearInterval(sample);
      resolve({ code, stderr, peakMiB: Math.round(peakKiB / 1024) });
    });
  });
}

test("rtb list on a 3 MB batch that inflates to a 3 GiB line: a clear message naming it, exit 4, modest memory", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-bomb-"));
  try {
    const { store, args } = await storeWith(dir, [[put("/data/a")]]);
    // Concatenated gzip members read as one stream: the 64 MiB block of "a" is compressed once and repeated.
    const block = gzipSync(Buffer.alloc(64 << 20, 97), { level: 9 });
    const body = Buffer.concat([
      gzipSync(`{"v":1,"kind":"batch","seq":1,"time":${T + 1},"count":1}\n{"op":"put","path":"/`),
      ...Array<Buffer>(48).fill(block),
      gzipSync(`"}\n`),
    ]);
    assert.ok(body.length < 4 << 20, `${body.length} bytes`);
    const key = batchKey(1, T + 1, createHash("sha256").update(body).digest("hex"));
    await mkdir(dirname(join(store, key)), { recursive: true });
    await writeFile(join(store, key), body);
    const r = await rtbPeak(["list", ...args]);
    assert.is(r.code, 4, r.stderr);
    assert.match(r.stderr, `index batch ${key} cannot be read`);
    assert.match(r.stderr, /decompresses to more than 268435456 bytes/);
    assert.not.match(r.stderr, /FATAL|heap/i);
    assert.ok(r.peakMiB > 0 && r.peakMiB < 700, `peak RSS ${r.peakMiB} MiB`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
