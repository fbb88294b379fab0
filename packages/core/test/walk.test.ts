// The scan's walk on a real tree: each entry's lstat as Node gives it, names in order, and a directory that a local
// user swaps for a symlink between its stat and its listing is not followed.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { lstatSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { walk } from "@rtbackup/core";

test("every entry, a directory's in name order, with the numbers lstat gives", async () => {
  const root = await mkdtemp(join(tmpdir(), "rtb-walk-"));
  try {
    for (const d of ["b", "a", "a/z", "a/y"]) await mkdir(join(root, d));
    for (const f of ["b/2", "b/1", "a/z/f", "top", "\u00e9"]) await writeFile(join(root, f), f);
    await symlink("a", join(root, "l"));
    const seen: string[] = [];
    for await (const entry of walk(root)) {
      seen.push(entry.path.slice(root.length) || "/");
      const node = lstatSync(entry.path);
      for (const field of ["ino", "mode", "size", "mtimeMs", "ctimeMs", "nlink", "uid", "gid", "dev"] as const)
        assert.is(entry.stats[field], node[field], `${entry.path}: ${field}`);
      assert.is(entry.stats.isDirectory(), node.isDirectory());
      assert.is(entry.stats.isSymbolicLink(), node.isSymbolicLink());
    }
    // A directory's entries together, in name order, then its subdirectories' in turn.
    assert.equal(seen, ["/", "/a", "/b", "/l", "/top", "/\u00e9", "/a/y", "/a/z", "/a/z/f", "/b/1", "/b/2"]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test("a directory replaced by a symlink after its lstat is not listed through the link", async () => {
  const root = await mkdtemp(join(tmpdir(), "rtb-walk-"));
  const elsewhere = await mkdtemp(join(tmpdir(), "rtb-walk-elsewhere-"));
  try {
    await mkdir(join(root, "docs"));
    await writeFile(join(root, "docs", "mine.txt"), "mine");
    await writeFile(join(elsewhere, "secret.txt"), "not under the root");
    const seen: string[] = [];
    // The swap happens when the walk has stat'ed docs as a directory, before it lists it.
    const skip = async (path: string) => {
      if (path === join(root, "docs")) {
        await rename(path, join(root, "docs.old"));
        await symlink(elsewhere, path);
      }
      return false;
    };
    for await (const entry of walk(root, { skip })) seen.push(entry.path.slice(root.length));
    assert.ok(!seen.some((p) => p.includes("secret")), `nothing of the symlink's target is walked: ${seen.join(" ")}`);
    assert.ok(seen.includes("/docs"));
  } finally {
    await rm(root, { recursive: true, force: true });
    await rm(elsewhere, { recursive: true, force: true });
  }
});

test.run();
