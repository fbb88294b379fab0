// Hard links: names of one inode are recorded with its inode number and link count, and a restore makes the names it
// restores together into links of one file again. A link added or removed later is a change a rescan commits; names
// that claim one inode but disagree on content or metadata are never linked.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { link, lstat, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Engine, Restorer, asRecord, silentSink, type FileEntry } from "@rtbackup/core";
import { backupOnce, describe, restoreAll, testParameters, workspace } from "./helpers/tree.js";

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

for (const format of [1, 2] as const)
  test(`format v${format}: names of one inode come back as hard links of one file, in a whole restore and in a partial one`, async () => {
    const ws = await workspace({ format });
    try {
      await mkdir(join(ws.src, "a"));
      await mkdir(join(ws.src, "b"));
      await writeFile(join(ws.src, "a", "x"), "three names");
      await link(join(ws.src, "a", "x"), join(ws.src, "a", "y"));
      await link(join(ws.src, "a", "x"), join(ws.src, "b", "z"));
      await writeFile(join(ws.src, "p1"), Buffer.alloc(300_000, 7)); // several chunks: written through a file handle
      await link(join(ws.src, "p1"), join(ws.src, "p2"));
      await writeFile(join(ws.src, "alone"), "one name");
      await backupOnce(ws);

      const { result, tree } = await restoreAll(ws);
      assert.is(result.errors + result.unsafe, 0);
      const x = tree.entries.get(join(ws.src, "a", "x"))!;
      assert.equal([x.links, typeof x.inode], [3, "number"], "the index records the inode and its link count");
      assert.is(tree.entries.get(join(ws.src, "alone"))!.links, undefined, "a file with one name records neither");
      const back = join(ws.out, ws.src.slice(1));
      const st = async (...p: string[]) => lstat(join(back, ...p));
      const [bx, by, bz] = [await st("a", "x"), await st("a", "y"), await st("b", "z")];
      assert.equal([by.ino, bz.ino], [bx.ino, bx.ino], "x, y and z are one inode again");
      assert.is(bx.nlink, 3);
      assert.is((await st("p1")).ino, (await st("p2")).ino);
      assert.is((await st("p2")).nlink, 2);
      assert.is((await st("alone")).nlink, 1);
      assert.equal(await describe(back), await describe(ws.src), "content, modes and times as they were");

      // Only a/: x and y are linked to each other; z is not restored.
      const part = join(ws.dir, "part");
      const partial = await restoreAll(ws, { paths: [join(ws.src, "a")], out: part });
      assert.is(partial.result.errors, 0);
      const px = await lstat(join(part, ws.src.slice(1), "a", "x"));
      assert.equal([px.nlink, (await lstat(join(part, ws.src.slice(1), "a", "y"))).ino], [2, px.ino]);
    } finally {
      await ws.cleanup();
    }
  });

test("a link made or removed after a backup is a change the next backup commits", async () => {
  const ws = await workspace();
  try {
    const f = join(ws.src, "f");
    await writeFile(f, "content");
    await backupOnce(ws);
    await link(f, join(ws.src, "g"));
    await backupOnce(ws);
    let { tree } = await restoreAll(ws, { out: join(ws.dir, "two") });
    assert.equal([tree.entries.get(f)?.links, tree.entries.get(join(ws.src, "g"))?.links], [2, 2], "f was recorded again (its ctime moved)");
    const two = join(ws.dir, "two", ws.src.slice(1));
    assert.is((await lstat(join(two, "f"))).ino, (await lstat(join(two, "g"))).ino);

    await rm(join(ws.src, "g"));
    await backupOnce(ws);
    ({ tree } = await restoreAll(ws, { out: join(ws.dir, "one") }));
    assert.is(tree.entries.get(f)?.links, undefined, "back to one name");
    assert.is(tree.entries.get(join(ws.src, "g")), undefined);
    assert.is((await lstat(join(ws.dir, "one", ws.src.slice(1), "f"))).nlink, 1);
  } finally {
    await ws.cleanup();
  }
});

test("a write reported for one name of a hard-linked file brings its other names' records up to date, without a rescan", async () => {
  const ws = await workspace();
  try {
    const f = join(ws.src, "f");
    await mkdir(join(ws.src, "elsewhere"));
    await writeFile(f, "first");
    await link(f, join(ws.src, "elsewhere", "g"));
    await backupOnce(ws);
    // A new process has noted no names (no scan ran): g is found through the inode its cached entry recorded.
    const engine = new Engine({ parameters: testParameters(ws), log: { sink: silentSink } });
    await engine.start();
    try {
      await writeFile(f, "second, through f", { flag: "r+" });
      // What the kernel would report: the name written to, only.
      engine.submit({ type: "update", path: f });
      for (let i = 0; i < 3; i++) await engine.runtime.drain();
    } finally {
      await engine.stop();
    }
    const { tree } = await restoreAll(ws);
    const g = join(ws.src, "elsewhere", "g");
    assert.equal(tree.entries.get(g)?.chunks, tree.entries.get(f)?.chunks, "g's record has f's new content");
    const out = join(ws.out, ws.src.slice(1));
    assert.is(await readFile(join(out, "elsewhere", "g"), "utf8"), "second, through f");
    assert.is((await lstat(join(out, "f"))).ino, (await lstat(join(out, "elsewhere", "g"))).ino, "still one file");
  } finally {
    await ws.cleanup();
  }
});

test("entries that claim one inode but differ are restored apart; hard-link fields are checked", async () => {
  const ws = await workspace();
  try {
    const content = new Map([
      [sha("mine"), Buffer.from("mine")],
      [sha("theirs"), Buffer.from("theirs")],
    ]);
    const chunks = { getChunk: async (id: string) => content.get(id)! };
    const file = (path: string, text: string, extra: Partial<FileEntry> = {}): FileEntry => ({
      path,
      type: "file",
      size: text.length,
      mtimeMs: 1_700_000_000_000,
      mode: 0o644,
      uid: 0,
      gid: 0,
      chunks: [sha(text)],
      inode: 42,
      links: 2,
      ...extra,
    });
    const entries = [
      file("/t/mine", "mine"),
      file("/t/theirs", "theirs"),
      file("/t/secret-mode", "mine", { mode: 0o600 }),
      file("/t/own-attrs", "mine", { xattrs: { "user.tag": Buffer.from("other").toString("base64") } }),
      file("/t/twin", "mine"),
    ];
    const result = await new Restorer(chunks, { restoreOwner: false }).restore(entries, ws.out);
    assert.is(result.errors, 0);
    const at = (name: string) => join(ws.out, "t", name);
    assert.is(await readFile(at("theirs"), "utf8"), "theirs", "another content is never linked in");
    assert.is.not((await lstat(at("theirs"))).ino, (await lstat(at("mine"))).ino);
    assert.is.not((await lstat(at("secret-mode"))).ino, (await lstat(at("mine"))).ino, "nor another mode");
    assert.is((await lstat(at("secret-mode"))).mode & 0o777, 0o600);
    assert.is.not((await lstat(at("own-attrs"))).ino, (await lstat(at("mine"))).ino, "nor other attributes");
    assert.is((await lstat(at("twin"))).ino, (await lstat(at("mine"))).ino, "the true twin is linked");

    const put = { op: "put", path: "/d", type: "dir", size: 0, mtimeMs: 0, mode: 0o755, uid: 0, gid: 0, chunks: [] };
    assert.throws(() => asRecord({ ...put, inode: 5, links: 2 }, "test"), /a dir with hard-link fields/);
    const one = { ...put, path: "/f", type: "file" };
    assert.throws(() => asRecord({ ...one, inode: 5, links: 1 }, "test"), /links 1 is not a count of two or more names/);
    assert.throws(() => asRecord({ ...one, inode: -1, links: 2 }, "test"), /inode -1 is not an inode number/);
    assert.throws(() => asRecord({ ...one, links: 2 }, "test"), /inode undefined is not an inode number/);
  } finally {
    await ws.cleanup();
  }
});

test.run();
