import { test } from "uvu";
import * as assert from "uvu/assert";
import { lstat, readdir, readFile, symlink, truncate, writeFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { IndexDamagedError, LocalDirectoryStorage, Repository, Restorer, loadTree, type FileEntry } from "@rtbackup/core";
import { backupOnce, restoreAll, workspace } from "./helpers/tree.js";

async function firstFile(dir: string): Promise<string> {
  for (const name of (await readdir(dir)).sort()) {
    const p = join(dir, name);
    if ((await lstat(p)).isDirectory()) {
      const inner = await firstFile(p).catch(() => "");
      if (inner) return inner;
    } else return p;
  }
  throw new Error(`no file under ${dir}`);
}

test("a corrupted content object is detected, named, and never restored", async () => {
  const ws = await workspace({ format: 1 });
  try {
    await writeFile(join(ws.src, "precious.txt"), "the precious content");
    await backupOnce(ws);
    const object = await firstFile(join(ws.store, "data"));
    const bytes = await readFile(object);
    bytes[0] ^= 0xff;
    await writeFile(object, bytes);
    const { result, events } = await restoreAll(ws);
    assert.is(result.errors, 1);
    const error = events.find((e: any) => e.event === "error") as { path: string; error: string };
    assert.match(error.path, /precious\.txt$/);
    assert.match(error.error, new RegExp(`content object data/../${object.split("/").pop()} is corrupt`));
    const left = await readdir(join(ws.out, ws.src.slice(1)));
    assert.equal(
      left.filter((n) => n.includes("precious")),
      [],
      "no partial or corrupt file left behind",
    );
  } finally {
    await ws.cleanup();
  }
});

test("a truncated index batch is detected and named", async () => {
  const ws = await workspace({ format: 1 });
  try {
    await writeFile(join(ws.src, "a.txt"), "a");
    await backupOnce(ws);
    const batch = await firstFile(join(ws.store, "index", "batch"));
    const size = (await lstat(batch)).size;
    await truncate(batch, Math.floor(size / 2));
    const repo = await Repository.open(new LocalDirectoryStorage({ path: ws.store }));
    try {
      await loadTree(repo);
      assert.unreachable("loading a truncated batch must fail");
    } catch (err) {
      assert.instance(err, IndexDamagedError);
      assert.is((err as IndexDamagedError).code, "INDEX_DAMAGED");
      assert.ok((err as Error).message.includes(batch.slice(ws.store.length + 1)), (err as Error).message);
    }
  } finally {
    await ws.cleanup();
  }
});

test("hostile index entries cannot write outside the restore target", async () => {
  const ws = await workspace({ format: 1 });
  try {
    await writeFile(join(ws.src, "ok.txt"), "fine");
    await backupOnce(ws);
    const repo = await Repository.open(new LocalDirectoryStorage({ path: ws.store }));
    const tree = await loadTree(repo);
    const good = [...tree.entries.values()].find((e) => e.path.endsWith("ok.txt"))!;
    const victimDir = join(ws.dir, "victim");
    await mkdir(victimDir);
    // A file's inode fields go with it: the symlink below is forged from the same entry without them.
    const { inode: _inode, links: _links, ...unlinked } = good;
    const hostile = (path: string, extra: Partial<FileEntry> = {}): FileEntry => ({ ...(extra.type === "symlink" ? unlinked : good), path, ...extra });
    await repo.writeBatch(tree.sequence + 1, Date.now(), [
      { op: "put", ...hostile("/../../etc/rtb-escape") },
      { op: "put", ...hostile("/a/../../rtb-escape2") },
      { op: "put", ...hostile("relative/path") },
      { op: "put", ...hostile("/x//y") },
      // A symlink to outside, then a file "through" it: the file must not land in victimDir.
      { op: "put", ...hostile("/trap", { type: "symlink", chunks: [], size: 0, target: victimDir }) },
      { op: "put", ...hostile("/trap/pwned.txt") },
    ]);
    const out = join(ws.dir, "restore-target");
    const { events } = await restoreAll(ws, { out });
    const unsafe = events.filter((e: any) => e.event === "unsafe").map((e: any) => e.path);
    for (const p of ["/../../etc/rtb-escape", "/a/../../rtb-escape2", "relative/path", "/x//y"]) {
      assert.ok(unsafe.includes(p), `${p} reported as unsafe: ${JSON.stringify(events)}`);
    }
    assert.equal(await readdir(victimDir), [], "nothing written through the symlink");
    await lstat(join(ws.dir, "rtb-escape2")).then(
      () => assert.unreachable("escaped"),
      () => undefined,
    );
    // Symlinks are restored last: the file landed in a real directory inside the target, and the link that would
    // have replaced that directory was refused.
    assert.ok((await lstat(join(out, "trap"))).isDirectory());
    assert.is(await readFile(join(out, "trap", "pwned.txt"), "utf8"), "fine");
    assert.ok(events.some((e: any) => e.path === "/trap" && e.event === "unsafe"));
  } finally {
    await ws.cleanup();
  }
});

test("a pre-existing symlink inside the target is not followed", async () => {
  const ws = await workspace({ format: 1 });
  try {
    await mkdir(join(ws.src, "d"));
    await writeFile(join(ws.src, "d", "f.txt"), "data");
    await backupOnce(ws);
    const outside = join(ws.dir, "outside");
    await mkdir(outside);
    const out = join(ws.dir, "target");
    await mkdir(join(out, ws.src.slice(1)), { recursive: true });
    await symlink(outside, join(out, ws.src.slice(1), "d"));
    const { result } = await restoreAll(ws, { out });
    assert.ok(result.unsafe + result.errors > 0);
    assert.equal(await readdir(outside), []);
  } finally {
    await ws.cleanup();
  }
});

test("select: a directory restores its direct files unless recursive", async () => {
  const mk = (path: string, type: FileEntry["type"] = "file"): FileEntry => ({ path, type, size: 0, mtimeMs: 0, mode: 0o644, uid: 0, gid: 0, chunks: [] });
  const tree = new Map([mk("/d", "dir"), mk("/d/a"), mk("/d/sub", "dir"), mk("/d/sub/b"), mk("/e")].map((e) => [e.path, e]));
  assert.equal(
    Restorer.select(tree, ["/d"], false).entries.map((e) => e.path),
    ["/d", "/d/a"],
  );
  assert.equal(
    Restorer.select(tree, ["/d/"], true).entries.map((e) => e.path),
    ["/d", "/d/a", "/d/sub", "/d/sub/b"],
  );
  assert.equal(Restorer.select(tree, ["/nope"], true).missing, ["/nope"]);
});

test.run();
