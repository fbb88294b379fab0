// A directory's subtree as a tar stream, extracted by the system's GNU tar and compared with the tree: directories
// (implied ones too), files with their bytes, modes and mtimes, symlinks, long names (pax), names relative to the
// directory's parent, and the moment asked for.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFile } from "node:child_process";
import { get as httpGet } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { lstat, mkdir, readFile, readdir, readlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { MIN, T0, browseApp, dir, get, link, testRepo, withTempDir } from "./browseFixture.js";

const run = promisify(execFile);
const t1 = T0 + MIN;
const t2 = T0 + 2 * MIN;
const LONG_DIR = "d".repeat(120);
const LONG_FILE = `${"f".repeat(150)}.txt`;
const BIG = randomBytes(300_000);
const MTIME = Date.UTC(2025, 5, 1, 8, 30, 15, 250);

/** What a directory holds, as `path → description`, read from disk after extraction. */
async function described(root: string, rel = ""): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(join(root, rel))).sort()) {
    const path = rel ? `${rel}/${name}` : name;
    const st = await lstat(join(root, path));
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) out[path] = `link -> ${await readlink(join(root, path))}`;
    else if (st.isDirectory()) {
      out[path] = `dir ${mode}`;
      Object.assign(out, await described(root, path));
    } else out[path] = `file ${mode} ${Math.floor(st.mtimeMs / 1000)} ${(await readFile(join(root, path))).toString("base64").slice(0, 40)}`;
  }
  return out;
}

const b64 = (data: string | Buffer) => Buffer.from(data).toString("base64").slice(0, 40);

async function scripted(root: string) {
  const r = await testRepo(root, 2);
  const opts = { mtimeMs: MTIME };
  await r.commit(
    [
      dir("/srv", 0o750),
      dir("/srv/proj", 0o700),
      await r.file("/srv/proj/readme.md", "hello v1", { ...opts, mode: 0o600 }),
      await r.file("/srv/proj/run.sh", "#!/bin/sh\n", { ...opts, mode: 0o755 }),
      await r.file("/srv/proj/empty", "", opts),
      await r.file("/srv/proj/big.bin", BIG, { ...opts, blobSize: 50_000 }),
      link("/srv/proj/link", "readme.md"),
      dir("/srv/proj/deep"),
      dir(`/srv/proj/deep/${LONG_DIR}`),
      await r.file(`/srv/proj/deep/${LONG_DIR}/${LONG_FILE}`, "long name", opts),
      await r.file("/srv/proj/implied/x.txt", "in an implied directory", opts),
      await r.file("/srv/proj/ünïcødé.txt", "unicode", opts),
      await r.file("/srv/proj/bad\udcff", "not utf-8", opts),
      await r.file("/srv/other/x", "outside", opts),
    ],
    t1,
  );
  await r.commit([await r.file("/srv/proj/readme.md", "hello v2, longer", { ...opts, mode: 0o600 })], t2);
  return r;
}

/** Downloads the tar of `path` as of `at` and extracts it with GNU tar into a new directory under `root`. */
async function extracted(app: ReturnType<typeof browseApp>, root: string, query: Record<string, string>): Promise<string> {
  const res = await get(app, "/api/browse/tar", query);
  assert.is(res.statusCode, 200, res.body);
  assert.is(res.headers["content-type"], "application/x-tar");
  const out = join(root, `out-${randomBytes(4).toString("hex")}`);
  await mkdir(out);
  await writeFile(`${out}.tar`, res.rawPayload);
  await run("tar", ["-xf", `${out}.tar`, "-C", out, "--no-same-owner"]);
  return out;
}

test("the tar of a directory as of a moment extracts to its subtree", async () => {
  await withTempDir(async (root) => {
    const r = await scripted(root);
    const app = browseApp(r.repo, root);
    const secs = Math.floor(MTIME / 1000);
    const out = await extracted(app, root, { path: "/srv/proj", at: new Date(t1).toISOString() });
    assert.equal(await described(out), {
      proj: "dir 700",
      "proj/bad\\xff": `file 644 ${secs} ${b64("not utf-8")}`,
      "proj/big.bin": `file 644 ${secs} ${b64(BIG)}`,
      "proj/deep": "dir 755",
      [`proj/deep/${LONG_DIR}`]: "dir 755",
      [`proj/deep/${LONG_DIR}/${LONG_FILE}`]: `file 644 ${secs} ${b64("long name")}`,
      "proj/empty": `file 644 ${secs} `,
      "proj/implied": "dir 755",
      "proj/implied/x.txt": `file 644 ${secs} ${b64("in an implied directory")}`,
      "proj/link": "link -> readme.md",
      "proj/readme.md": `file 600 ${secs} ${b64("hello v1")}`,
      "proj/run.sh": `file 755 ${secs} ${b64("#!/bin/sh\n")}`,
      "proj/ünïcødé.txt": `file 644 ${secs} ${b64("unicode")}`,
    });
    assert.ok((await readFile(join(out, "proj/big.bin"))).equals(BIG));
    // As of now: the new readme; the tar of / is named from the top.
    const now = await extracted(app, root, { path: "/" });
    assert.is(await readFile(join(now, "srv/proj/readme.md"), "utf8"), "hello v2, longer");
    assert.is(await readFile(join(now, "srv/other/x"), "utf8"), "outside");
    assert.equal((await readdir(now)).sort(), ["srv"]);
  });
});

test("the tar of what is not a directory is refused, naming it", async () => {
  await withTempDir(async (root) => {
    const r = await scripted(root);
    const app = browseApp(r.repo, root);
    const file = await get(app, "/api/browse/tar", { path: "/srv/proj/readme.md" });
    assert.is(file.statusCode, 400);
    assert.match(file.json().error, /parameter path: "\/srv\/proj\/readme\.md" is a file, not a directory, in the backup/);
    const none = await get(app, "/api/browse/tar", { path: "/srv/nothing" });
    assert.is(none.statusCode, 404);
    assert.match(none.json().error, /"\/srv\/nothing" is not in the backup/);
  });
});

test("a tar download that goes away stops reading the store, and the server goes on", async () => {
  await withTempDir(async (root) => {
    const r = await testRepo(root, 1);
    const files = 60;
    await r.commit([dir("/d"), ...(await Promise.all(Array.from({ length: files }, (_, i) => r.file(`/d/f${i}`, randomBytes(256 * 1024)))))], t1);
    // A v1 repository is its own chunk source: count the blobs read.
    const repo = r.repo as unknown as { getChunk(id: string): Promise<Buffer> };
    const getChunk = repo.getChunk.bind(repo);
    let reads = 0;
    repo.getChunk = (id) => (reads++, getChunk(id));
    const app = browseApp(r.repo, root);
    let responded!: () => void;
    const ended = new Promise<void>((resolve) => (responded = resolve));
    app.addHook("onRequest", async (_request, reply) => void reply.raw.once("close", () => responded()));
    await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/api/browse/tar?path=/d`;
      await new Promise<void>((resolve, reject) => {
        const request = httpGet(url, (res) => {
          let got = 0;
          res.on("data", (data: Buffer) => {
            got += data.length;
            if (got > 100_000) {
              request.destroy();
              resolve();
            }
          });
        });
        request.on("error", (err) => (err.message.includes("socket hang up") ? undefined : reject(err)));
      });
      const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the server never saw the download end")), 5000).unref());
      await Promise.race([ended, deadline]);
      assert.ok(reads < (files * 4) / 2, `${reads} of ${files * 4} blobs read for a download that went away`);
      // The server is still there, and a whole download works.
      const whole = await get(app, "/api/browse/tar", { path: "/d" });
      assert.is(whole.statusCode, 200);
      assert.ok(whole.rawPayload.length > files * 256 * 1024);
    } finally {
      await app.close();
    }
  });
});

test.run();
