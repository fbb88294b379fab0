// Roots inside roots: a path is walked and counted once, a deletion under the inner root is one deletion, and an
// inner root on another filesystem (which the outer walk does not enter) is still walked on its own.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { backedUpFiles, backupOnce, workspace } from "./helpers/tree.js";

test("a root inside another is walked once: counts, changes and deletions are not doubled", async () => {
  const ws = await workspace();
  try {
    await mkdir(join(ws.src, "inner/deep"), { recursive: true });
    for (const f of ["top.txt", "inner/a.txt", "inner/deep/b.txt"]) await writeFile(join(ws.src, f), f);
    const roots = [join(ws.src, "inner"), ws.src, join(ws.src, "inner/deep")];
    const first = await backupOnce(ws, { backupRoots: roots });
    // src, top.txt, inner, inner/a.txt, inner/deep, inner/deep/b.txt
    assert.is(first.seen, 6);
    assert.is(first.changed, 6);
    await rm(join(ws.src, "inner/deep/b.txt"));
    await writeFile(join(ws.src, "inner/a.txt"), "changed");
    const second = await backupOnce(ws, { backupRoots: roots });
    // a.txt, and inner/deep (its mtime moved with the deletion).
    assert.equal([second.seen, second.changed, second.deleted], [5, 2, 1]);
    assert.equal(await backedUpFiles(ws), ["/inner/a.txt", "/top.txt"]);
  } finally {
    await ws.cleanup();
  }
});

test("an inner root on another filesystem is walked on its own", async () => {
  const ws = await workspace();
  const mount = join(ws.src, "mnt");
  await mkdir(mount);
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mount]);
  try {
    await writeFile(join(ws.src, "outer.txt"), "o");
    await writeFile(join(mount, "inner.txt"), "i");
    const result = await backupOnce(ws, { backupRoots: [ws.src, mount] });
    // src, outer.txt, mnt (the mount point, as the outer walk lists it but does not enter), mnt's root, inner.txt
    assert.equal(await backedUpFiles(ws), ["/mnt/inner.txt", "/outer.txt"]);
    assert.is(result.deleted, 0);
  } finally {
    execFileSync("umount", ["-l", mount]);
    await ws.cleanup();
  }
});

test.run();
