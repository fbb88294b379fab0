// The restore browser's reading routes on two moments, in both repository formats: between them a file changed and
// another was deleted; each is listed and downloaded as of each moment (bytes compared), its versions and the
// commit timeline read, and a damaged blob refused.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { dataKey } from "@rtbackup/core";
import { MIN, T0, browseApp, dir, get, keptLog, link, testRepo, withTempDir } from "./browseFixture.js";

const t1 = T0 + MIN;
const t2 = T0 + 2 * MIN;
const iso = (ms: number) => new Date(ms).toISOString();
const BIG = randomBytes(300_000);

/** t1: /data with a.txt, b.txt, a 5-blob big.bin, a symlink, and sub/c.txt (sub has no entry); t2: a.txt changed, b.txt deleted. */
async function twoMoments(root: string, format: 1 | 2) {
  const r = await testRepo(root, format);
  await r.commit(
    [
      dir("/data"),
      await r.file("/data/a.txt", "alpha v1"),
      await r.file("/data/b.txt", "bravo"),
      await r.file("/data/big.bin", BIG, { blobSize: 64 * 1024 }),
      link("/data/link", "a.txt"),
      await r.file("/data/sub/c.txt", "charlie"),
    ],
    t1,
  );
  await r.commit([await r.file("/data/a.txt", "alpha version 2"), { op: "delete", path: "/data/b.txt" }], t2);
  return r;
}

for (const format of [1, 2] as const) {
  test(`v${format}: a directory listed as of each moment, newest by default`, async () => {
    await withTempDir(async (root) => {
      const { repo } = await twoMoments(root, format);
      const app = browseApp(repo, root);
      const names = (body: { entries: { name: string }[] }) => body.entries.map((e) => e.name);
      const first = await get(app, "/api/browse/list", { path: "/data", at: iso(t1) });
      assert.is(first.statusCode, 200, first.body);
      const listed = first.json();
      assert.is(listed.at, iso(t1));
      assert.is(listed.path, "/data");
      assert.equal(names(listed), ["a.txt", "b.txt", "big.bin", "link", "sub"]);
      assert.equal(listed.entries[0], { name: "a.txt", path: "/data/a.txt", type: "file", size: 8, mtime: iso(T0 - 3_600_000), mode: 0o644 });
      assert.equal(listed.entries[3].target, "a.txt");
      assert.is(listed.entries[3].type, "symlink");
      assert.equal(listed.entries[4], { name: "sub", path: "/data/sub", type: "directory", size: 0, mtime: null, mode: null, implied: true });
      assert.is(listed.next, undefined);
      const now = (await get(app, "/api/browse/list", { path: "/data" })).json();
      assert.is(now.at, iso(t2));
      assert.equal(names(now), ["a.txt", "big.bin", "link", "sub"]);
      assert.is(now.entries[0].size, 15);
      // A moment between the two commits is the first one's tree; the root lists /data.
      assert.equal(names((await get(app, "/api/browse/list", { path: "/data", at: String(t1 + 30_000) })).json()), names(listed));
      assert.equal(names((await get(app, "/api/browse/list", {})).json()), ["data"]);
      assert.equal(names((await get(app, "/api/browse/list", { path: "/data/sub" })).json()), ["c.txt"]);
      // Before the first commit there is nothing but an empty root.
      assert.equal((await get(app, "/api/browse/list", { at: iso(T0) })).json().entries, []);
      const notDir = await get(app, "/api/browse/list", { path: "/data/a.txt" });
      assert.is(notDir.statusCode, 404);
      assert.match(notDir.json().error, /parameter path: "\/data\/a\.txt" is not a directory in the backup as of/);
      assert.is((await get(app, "/api/browse/list", { path: "/data/b.txt" })).statusCode, 404);
    });
  });

  test(`v${format}: files downloaded as of each moment, bytes and headers`, async () => {
    await withTempDir(async (root) => {
      const { repo } = await twoMoments(root, format);
      const app = browseApp(repo, root);
      const file = (path: string, at?: number) => get(app, "/api/browse/file", { path, ...(at === undefined ? {} : { at: iso(at) }) });
      const a1 = await file("/data/a.txt", t1);
      assert.is(a1.statusCode, 200, a1.body);
      assert.is(a1.body, "alpha v1");
      assert.is(a1.headers["content-type"], "application/octet-stream");
      assert.is(a1.headers["content-length"], "8");
      assert.is(a1.headers["content-disposition"], 'attachment; filename="a.txt"');
      assert.is((await file("/data/a.txt", t2)).body, "alpha version 2");
      assert.is((await file("/data/a.txt")).body, "alpha version 2");
      assert.is((await file("/data/b.txt", t1)).body, "bravo");
      const gone = await file("/data/b.txt", t2);
      assert.is(gone.statusCode, 404);
      assert.match(gone.json().error, /"\/data\/b\.txt" is not in the backup as of/);
      const big = await file("/data/big.bin");
      assert.is(big.statusCode, 200);
      assert.is(big.headers["content-length"], String(BIG.length));
      assert.ok(big.rawPayload.equals(BIG), "the 5-blob file comes back byte for byte");
      const isDir = await file("/data/sub");
      assert.is(isDir.statusCode, 400);
      assert.match(isDir.json().error, /is a directory, not a regular file/);
      assert.is((await file("/data/link")).statusCode, 400);
    });
  });

  test(`v${format}: versions of a path and the commit timeline, newest first, paged`, async () => {
    await withTempDir(async (root) => {
      const { repo } = await twoMoments(root, format);
      const app = browseApp(repo, root);
      const a = (await get(app, "/api/browse/versions", { path: "/data/a.txt" })).json();
      assert.is(a.path, "/data/a.txt");
      assert.equal(
        a.versions.map((v: { time: string; change: string; size: number }) => [v.time, v.change, v.size]),
        [
          [iso(t1), "put", 8],
          [iso(t2), "put", 15],
        ],
      );
      assert.match(a.versions[0].content, /^[0-9a-f]{64}$/);
      assert.is.not(a.versions[0].content, a.versions[1].content);
      assert.is(a.versions[0].writer, format === 1 ? "journal" : "a".repeat(32));
      const b = (await get(app, "/api/browse/versions", { path: "/data/b.txt" })).json();
      assert.equal(
        b.versions.map((v: { change: string; deletedAt?: string }) => [v.change, v.deletedAt]),
        [
          ["put", iso(t2)],
          ["deleted", undefined],
        ],
      );
      assert.equal((await get(app, "/api/browse/versions", { path: "/nothing" })).json().versions, []);
      const all = (await get(app, "/api/browse/commits", {})).json();
      assert.equal(
        all.commits.map((c: { time: string; puts: number; moves: number; deletes: number }) => [c.time, c.puts, c.moves, c.deletes]),
        [
          [iso(t2), 1, 0, 1],
          [iso(t1), 6, 0, 0],
        ],
      );
      assert.is(all.commits[1].bytes, 8 + 5 + BIG.length + 7);
      assert.is(all.next, undefined);
      const page1 = (await get(app, "/api/browse/commits", { limit: "1" })).json();
      assert.equal(
        page1.commits.map((c: { time: string }) => c.time),
        [iso(t2)],
      );
      assert.is(page1.next, iso(t2));
      const page2 = (await get(app, "/api/browse/commits", { limit: "1", before: page1.next })).json();
      assert.equal(
        page2.commits.map((c: { time: string }) => c.time),
        [iso(t1)],
      );
      assert.is(page2.next, undefined);
    });
  });
}

test("a blob that does not verify is refused, not sent", async () => {
  await withTempDir(async (root) => {
    const r = await testRepo(root, 1);
    const record = await r.file("/data/a.txt", "the real content");
    const multi = await r.file("/data/m.bin", BIG);
    await r.commit([record, multi], t1);
    const { log, lines } = keptLog();
    const app = browseApp(r.repo, root, log);
    if (record.op !== "put" || multi.op !== "put") throw new Error("unreachable");
    await writeFile(join(root, "store", dataKey(record.chunks[0]!)), "tampered content");
    const first = await get(app, "/api/browse/file", { path: "/data/a.txt" });
    assert.is(first.statusCode, 500);
    assert.not.match(first.body, /tampered/);
    // A later blob damaged: the response is destroyed before it completes (never a short file that looks whole), and
    // the failure logged.
    await writeFile(join(root, "store", dataKey(multi.chunks[2]!)), "tampered");
    const cut = await get(app, "/api/browse/file", { path: "/data/m.bin" }).then(
      (r) => `completed with ${r.rawPayload.length} bytes`,
      (err: Error) => err.message,
    );
    assert.match(cut, /destroyed before completion/);
    assert.ok(
      lines.error.some((l) => l.includes("download of /data/m.bin")),
      lines.error.join("\n"),
    );
  });
});

test.run();
