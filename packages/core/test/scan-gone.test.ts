import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Engine, silentSink } from "@rtbackup/core";
import { backupOnce, restoreAll, testParameters, workspace, type Workspace } from "./helpers/tree.js";

// The scan finds what is gone one directory at a time, from the state cache's sorted keys (GoneTracker), not from a
// set of every path seen. These are the cases that comparison must get right.

const raw = (base: string, ...names: string[]) => Buffer.concat([Buffer.from(base), ...names.flatMap((n) => [Buffer.from("/"), Buffer.from(n, "latin1")])]);

async function restoredPaths(ws: Workspace): Promise<string[]> {
  const { tree } = await restoreAll(ws, { out: join(ws.dir, `out-${Date.now()}`) });
  return [...tree.entries.keys()]
    .map((p) => p.slice(ws.src.length))
    .filter((p) => p !== "")
    .sort();
}

test("deletions in every directory: files, a whole subtree, a name beside a longer one, the last entry of a directory", async () => {
  const ws = await workspace();
  try {
    for (const d of ["a", "a/b", "a/b/c", "a-b", "a.x", "z", "empty"]) await mkdir(join(ws.src, d), { recursive: true });
    for (const f of ["a/1", "a/2", "a/b/3", "a/b/c/4", "a-b/5", "a.x/6", "z/7", "top"]) await writeFile(join(ws.src, f), f);
    await backupOnce(ws);
    // a/b goes with its subtree; a-b and a.x (which sort between "a" and "a/…") stay; z/7, the only file of z, goes.
    await rm(join(ws.src, "a/b"), { recursive: true });
    await rm(join(ws.src, "a/2"));
    await rm(join(ws.src, "z/7"));
    const second = await backupOnce(ws);
    assert.is(second.deleted, 3, "a/b (its subtree with it), a/2 and z/7");
    assert.equal(await restoredPaths(ws), ["/a", "/a-b", "/a-b/5", "/a.x", "/a.x/6", "/a/1", "/empty", "/top", "/z"]);
    const third = await backupOnce(ws);
    assert.is(third.deleted, 0);
    assert.is(third.changed, 0);
  } finally {
    await ws.cleanup();
  }
});

test("a directory replaced by a file or a symlink: what was under it is gone", async () => {
  const ws = await workspace();
  try {
    await mkdir(join(ws.src, "d/sub"), { recursive: true });
    await mkdir(join(ws.src, "e"));
    await writeFile(join(ws.src, "d/sub/f"), "f");
    await writeFile(join(ws.src, "d/g"), "g");
    await writeFile(join(ws.src, "e/h"), "h");
    await backupOnce(ws);
    await rm(join(ws.src, "d"), { recursive: true });
    await writeFile(join(ws.src, "d"), "now a file");
    await rm(join(ws.src, "e"), { recursive: true });
    await symlink("/nowhere", join(ws.src, "e"));
    await backupOnce(ws);
    assert.equal(await restoredPaths(ws), ["/d", "/e"]);
    const again = await backupOnce(ws);
    assert.is(again.deleted, 0);
    assert.is(again.changed, 0);
  } finally {
    await ws.cleanup();
  }
});

test("names the cache keys by a hash (not UTF-8, or too long) are found gone, and stay while they are there", async () => {
  const ws = await workspace();
  try {
    await mkdir(raw(ws.src, "dir\xe9"));
    await writeFile(raw(ws.src, "dir\xe9", "in\xff"), "x");
    await writeFile(raw(ws.src, "keep\xfe"), "y");
    // U+FFFD itself, valid UTF-8: a listing holding it is read again as bytes, and it is an ordinary name.
    await writeFile(join(ws.src, "repl\uFFFDchar"), "z");
    const long = "n".repeat(250);
    const deep = join(ws.src, ...Array.from({ length: 9 }, (_, i) => `${long}${i}`));
    await mkdir(deep, { recursive: true });
    await writeFile(join(deep, "leaf"), "deep");
    await backupOnce(ws);
    const unchanged = await backupOnce(ws);
    assert.is(unchanged.changed, 0);
    assert.is(unchanged.deleted, 0);
    await rm(raw(ws.src, "dir\xe9", "in\xff"));
    await rm(join(deep, "leaf"));
    const after = await backupOnce(ws);
    assert.is(after.deleted, 2, "the non-UTF-8 file and the file under the 2,000-byte path");
    const paths = await restoredPaths(ws);
    assert.ok(paths.includes("/keep\udcfe") && paths.includes("/dir\udce9") && paths.includes("/repl\uFFFDchar"), paths.join(" "));
    assert.not.ok(paths.includes("/dir\udce9/in\udcff"));
    assert.not.ok(paths.some((p) => p.endsWith("/leaf")));
  } finally {
    await ws.cleanup();
  }
});

test("an excluded path is dropped from the index; an included one under an excluded directory is kept", async () => {
  const ws = await workspace();
  try {
    await mkdir(join(ws.src, "cache/keep"), { recursive: true });
    await writeFile(join(ws.src, "cache/junk"), "j");
    await writeFile(join(ws.src, "cache/keep/k"), "k");
    await writeFile(join(ws.src, "f.tmp"), "t");
    await backupOnce(ws);
    const engine = new Engine({ parameters: testParameters(ws), log: { sink: silentSink } });
    // An async tap: the scan awaits the hook per path (the sync path is the default filters').
    engine.hooks.intake.tapPromise("test", async ({ path }) => (path.endsWith(".tmp") || path.endsWith("/junk") ? "exclude" : undefined));
    await engine.start();
    try {
      const scan = await engine.initialBackup();
      assert.is(scan.deleted, 2);
    } finally {
      await engine.stop();
    }
    assert.equal(await restoredPaths(ws), ["/cache", "/cache/keep", "/cache/keep/k"]);
  } finally {
    await ws.cleanup();
  }
});

test.run();
