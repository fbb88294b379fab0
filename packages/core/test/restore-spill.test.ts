// A restore streamed from a tree on disk (spillTreeV2 + selectFromSpill + Restorer.restoreFrom) selects and restores
// exactly what the restore from a Map does, a few entries at a time: hard links whose names fall in different pieces
// are linked again, names that are not UTF-8 and paths too long for a key (hash-keyed, in no path order) come back
// with their directories' metadata, and the scratch tree is gone afterwards.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { link, lstat, mkdir, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { LocalDirectoryStorage, Restorer, loadTree, openRepository, selectFromSpill, spillTreeV2, type RepositoryV2 } from "@rtbackup/core";
import { backupOnce, makeSampleTree, workspace } from "./helpers/tree.js";

const BAD = Buffer.from([0x62, 0x61, 0x64, 0xff, 0x2d]); // "bad\xff-": not UTF-8

/** The tree under `root` by raw names (describe() reads names as UTF-8): type, mode, mtime, content or target, inode group. */
function describe(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const inodes = new Map<number, string>();
  const visit = (dir: Buffer, rel: string) => {
    for (const name of readdirSync(dir, { encoding: "buffer" }).sort(Buffer.compare)) {
      const p = Buffer.concat([dir, Buffer.from("/"), name]);
      const r = `${rel}/${name.toString("hex")}`;
      const st = lstatSync(p);
      const first = inodes.get(st.ino) ?? r;
      inodes.set(st.ino, first);
      const what = st.isDirectory()
        ? "dir"
        : st.isSymbolicLink()
          ? `link ${readlinkSync(p)}`
          : st.isFile()
            ? `file ${readFileSync(p).toString("hex")}`
            : "other";
      const mtime = st.isSymbolicLink() ? "" : ` ${Math.floor(st.mtimeMs)}`;
      out[r] = `${what} ${(st.mode & 0o7777).toString(8)}${mtime} ${st.isFile() ? first : ""}`;
      if (st.isDirectory()) visit(p, r);
    }
  };
  visit(Buffer.from(root), "");
  return out;
}

function differences(a: Record<string, string>, b: Record<string, string>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => a[k] !== b[k]).map((k) => `${Buffer.from(k.replaceAll("/", ""), "hex").toString("latin1").slice(-60)}: ${a[k]} | ${b[k]}`);
}

test("a restore streamed from a spill in pieces of 3 equals the restore from a Map, and selects what it selects", async () => {
  const ws = await workspace();
  try {
    await makeSampleTree(ws.src);
    // Hard links spread over the tree, so their names fall in different pieces.
    await writeFile(join(ws.src, "a-first"), "linked content");
    await mkdir(join(ws.src, "z", "y"), { recursive: true });
    await link(join(ws.src, "a-first"), join(ws.src, "z", "y", "later"));
    await link(join(ws.src, "a-first"), join(ws.src, "docs", "middle"));
    // A directory whose name is not UTF-8, with a file and a subdirectory in it; a path too long for a key.
    const bad = Buffer.concat([Buffer.from(`${ws.src}/`), BAD]);
    mkdirSync(Buffer.concat([bad, Buffer.from("/sub")]), { recursive: true });
    await writeFile(Buffer.concat([bad, Buffer.from("/inside.txt")]), "inside a non-UTF-8 directory");
    const long = join(ws.src, "long", "x".repeat(200), "y".repeat(200), "z".repeat(200), "w".repeat(200));
    await mkdir(long, { recursive: true });
    await writeFile(join(long, "deep.txt"), "under a long path");
    await symlink("../a-first", join(ws.src, "z", "to-first"));
    execFileSync("mkfifo", [join(ws.src, "z", "fifo")]);
    for (const d of [join(ws.src, "z", "y"), long, join(ws.src, "long")]) await utimes(d, 1_500_000_000, 1_500_000_000);
    await backupOnce(ws);

    const repo = (await openRepository(new LocalDirectoryStorage({ path: ws.store }))) as RepositoryV2;
    const map = await loadTree(repo);
    await new Restorer(map.chunks).restore(Restorer.select(map.entries, ["/"], true).entries, join(ws.dir, "from-map"));

    const scratch = join(ws.dir, "scratch");
    await mkdir(scratch);
    // The first place cannot hold one (a file stands where its directory would be): the next is used.
    await writeFile(join(ws.dir, "not-a-directory"), "");
    const spilled = await spillTreeV2(repo, [join(ws.dir, "not-a-directory", "cache"), scratch]);
    try {
      assert.equal(spilled.damage, []);
      const requests: [string[], boolean][] = [
        [["/"], true],
        [[ws.src], false],
        [[join(ws.src, "docs"), join(ws.src, "docs", "deep"), join(ws.src, "big.bin")], true],
        [[join(ws.src, "docs"), join(ws.src, "no-such")], false],
        [[join(ws.src, "long")], true],
        [[join(ws.src, "z", "fifo"), join(ws.src, "z")], true],
      ];
      for (const [paths, recursive] of requests) {
        const want = Restorer.select(map.entries, paths, recursive);
        const got = selectFromSpill(spilled.spill, paths, recursive, 3);
        const listed = [...got.source.pieces()].flat().map((e) => e.path);
        assert.equal(listed.sort(), want.entries.map((e) => e.path).sort(), `selection of ${paths.join(", ")} (recursive: ${recursive})`);
        assert.is(new Set(listed).size, listed.length, "each entry once");
        assert.equal(got.missing, want.missing);
        assert.is(got.count, want.entries.length);
        // Every directory comes before each directory above it.
        const dirs = [...got.source.directoriesDeepestFirst()].flat().map((e) => e.path);
        for (let i = 0; i < dirs.length; i++)
          for (let j = i + 1; j < dirs.length; j++) assert.ok(!dirs[j]!.startsWith(`${dirs[i]}/`), `${dirs[j]} comes after ${dirs[i]}, above it`);
      }

      const all = selectFromSpill(spilled.spill, ["/"], true, 3);
      const out = join(ws.dir, "from-spill");
      const result = await new Restorer(spilled.chunks).restoreFrom(all.source, out);
      assert.is(result.errors + result.unsafe, 0);
      assert.is(result.restored, all.count);
      // (The directories above the source are not in the backup: made by each restore, at its own time.)
      assert.equal(differences(describe(join(out, ws.src.slice(1))), describe(join(ws.dir, "from-map", ws.src.slice(1)))), []);
      assert.equal(differences(describe(join(out, ws.src.slice(1))), describe(ws.src)), []);
      const back = join(out, ws.src.slice(1));
      const first = await lstat(join(back, "a-first"));
      assert.is((await lstat(join(back, "z", "y", "later"))).ino, first.ino, "a name in a later piece is a link again");
      assert.is((await lstat(join(back, "docs", "middle"))).ino, first.ino);
      assert.is(first.nlink, 3);
    } finally {
      await spilled.close();
    }
    assert.equal(readdirSync(scratch), [], "the spill is removed");
    assert.ok(!existsSync(join(scratch, "tree")));
  } finally {
    await ws.cleanup();
  }
});

test.run();
