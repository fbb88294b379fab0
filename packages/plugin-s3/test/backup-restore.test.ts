import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { appendFile, chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine, openRepository, Restorer, loadTree, silentSink } from "@rtbackup/core";
import { S3Storage, S3StoragePlugin } from "@rtbackup/plugin-s3";
import { FaultProxy } from "./helpers/FaultProxy.js";
import { S3RVER_CREDENTIALS, startS3rver } from "./helpers/s3rver.js";
import { withDeadline } from "./helpers/deadline.js";

/** Writes a tree of varied files: empty, small, multi-chunk, nested, odd names, modes. */
async function makeTree(root: string): Promise<void> {
  await mkdir(join(root, "docs", "deep", "a", "b", "c"), { recursive: true });
  await mkdir(join(root, "empty-dir"));
  await writeFile(join(root, "docs", "empty"), "");
  await writeFile(join(root, "docs", "ünïcødé 日本語.txt"), "unicode");
  await writeFile(join(root, "docs", "name with spaces"), "spaces");
  for (let i = 0; i < 30; i++) await writeFile(join(root, "docs", `small-${i}.bin`), randomBytes(100 + i * 997));
  await writeFile(join(root, "docs", "deep", "a", "b", "c", "leaf"), randomBytes(70_000));
  await writeFile(join(root, "big.img"), randomBytes(1024 * 1024 + 123));
  await writeFile(join(root, "script.sh"), "#!/bin/sh\necho hi\n");
  await chmod(join(root, "script.sh"), 0o750);
}

/** Relative path → "type mode size sha256" for every entry under root. */
async function describe(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  async function visit(dir: string, rel: string): Promise<void> {
    for (const name of (await readdir(dir)).sort()) {
      const p = join(dir, name);
      const st = await lstat(p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out.set(`${rel}/${name}`, `dir ${mode}`);
        await visit(p, `${rel}/${name}`);
      } else {
        const hash = createHash("sha256")
          .update(await readFile(p))
          .digest("hex");
        out.set(`${rel}/${name}`, `file ${mode} ${st.size} ${hash}`);
      }
    }
  }
  await visit(root, "");
  return out;
}

test("through 503 SlowDown, 500s and connection resets, a backup to s3rver completes and restores byte-identical", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-s3-e2e-"));
  const src = join(dir, "src");
  const server = await startS3rver();
  let proxy: FaultProxy | undefined;
  let engine: Engine | undefined;
  let reader: S3Storage | undefined;
  try {
    await mkdir(src);
    await makeTree(src);
    proxy = await FaultProxy.start(server.endpoint);
    const isPut = (r: { method: string; url: string }) => r.method === "PUT";
    // Format v2 writes few objects (packs and lane batches), so every other PUT fails, once with each fault kind.
    proxy.injectPeriodic({ match: isPut, every: 2, faults: ["slowdown", "unavailable", "internal", "reset", "reset-after"], times: 5 });
    engine = new Engine({
      log: { sink: silentSink },
      parameters: {
        storage: "s3",
        s3Endpoint: proxy.endpoint,
        s3Bucket: server.bucket,
        s3AccessKeyId: S3RVER_CREDENTIALS.accessKeyId,
        s3SecretAccessKey: S3RVER_CREDENTIALS.secretAccessKey,
        repositoryPrefix: "hosts/alpha",
        remoteFileStateCachePath: join(dir, "state"),
        backupRoots: [src],
        pathFilters: [],
        batchUploadConsolidationDelay: 20,
        chunkSize: 64 * 1024,
      },
      plugins: [new S3StoragePlugin()],
    });
    const recent = () =>
      `last requests: ${proxy!.seen
        .slice(-8)
        .map((r) => `${r.method} ${r.url.slice(0, 80)}${r.fault ? ` [${r.fault}]` : ""}${r.ended === undefined ? " (open)" : ""}`)
        .join("; ")}`;
    await withDeadline(engine.start(), 60_000, recent);
    const scan = await withDeadline(engine.initialBackup(), 90_000, recent);
    assert.ok(scan.changed >= 36, `files queued: ${scan.changed}`);
    // A second commit (a changed file and a new one): how many batches the first scan made depends on timing, and
    // the faults below need at least ten PUTs (config, lane, then a pack and a batch per commit, each retried once).
    await appendFile(join(src, "docs", "small-3.bin"), "changed after the first commit");
    await writeFile(join(src, "docs", "new-after-first"), randomBytes(5000));
    const rescan = await withDeadline(engine.initialBackup(), 90_000, recent);
    assert.ok(rescan.changed >= 2, `files queued by the second scan: ${rescan.changed}`);
    await withDeadline(engine.stop(), 60_000, recent);
    engine = undefined;
    const putFaults = proxy.seen.filter((r) => r.method === "PUT" && r.fault !== undefined).length;
    assert.is(putFaults, 5, `every injected upload fault was hit (${proxy.seen.filter((r) => r.method === "PUT").length} PUTs)`);

    // Restore from nothing but the bucket, with reads failing too.
    const isGet = (r: { method: string; url: string }) => r.method === "GET" && !r.url.includes("list-type");
    // A v2 restore reads neighbouring blobs of a pack at once (a few GETs), so each of the first reads fails once.
    proxy.injectPeriodic({ match: isGet, every: 1, faults: ["slowdown", "reset", "truncate"], times: 3, truncateAfter: 2000 });
    reader = new S3Storage({ endpoint: proxy.endpoint, bucket: server.bucket, credentials: S3RVER_CREDENTIALS, retryBaseDelay: 5 });
    const repo = await openRepository(reader, { prefix: "hosts/alpha" });
    const tree = await withDeadline(loadTree(repo), 60_000, recent);
    const restorer = new Restorer(tree.chunks, { restoreOwner: false });
    const result = await withDeadline(restorer.restore(Restorer.select(tree.entries, ["/"], true).entries, join(dir, "out")), 90_000, recent);
    assert.is(result.errors, 0);
    assert.is(proxy.seen.filter((r) => r.method === "GET" && r.fault !== undefined).length, 3, "every read fault was hit");
    assert.equal(await describe(join(dir, "out", src.slice(1))), await describe(src));
  } finally {
    await engine?.stop().catch(() => undefined);
    await reader?.close();
    await proxy?.stop();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
