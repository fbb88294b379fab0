// `rtb versions`, `rtb log` and `rtb diff` on a history made by three `rtb backup` runs (a file changed, added,
// deleted, a directory renamed), the times they print taken back by `--at`, and relative moments.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, readdir, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rtb } from "./helpers/daemon.js";

const jsonLines = (text: string) =>
  text
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test("versions, log and diff over three backups; --at takes their times back, and relative moments", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-history-cli-"));
  try {
    const src = join(dir, "src");
    await mkdir(join(src, "sub"), { recursive: true });
    await writeFile(join(src, "a.txt"), "first");
    await writeFile(join(src, "sub", "k.txt"), "kept");
    const common = ["--store", join(dir, "store"), "--state", join(dir, "state")];
    const backup = async () => {
      const r = await rtb(["backup", src, ...common, "--no-progress", "--quiet"]);
      assert.is(r.code, 0, r.stderr);
    };
    await backup();
    await writeFile(join(src, "a.txt"), "second!");
    await writeFile(join(src, "b.txt"), "new");
    await backup();
    await unlink(join(src, "a.txt"));
    await rename(join(src, "sub"), join(src, "sub2"));
    await backup();

    const a = join(src, "a.txt");
    const text = await rtb(["versions", a, ...common]);
    assert.is(text.code, 0, text.stderr);
    const rows = text.stdout.trim().split("\n");
    assert.is(rows.length, 3, text.stdout);
    assert.match(rows[0]!, /^\S+Z put +5 \S+Z [0-9a-f]{12} \S+ .*a\.txt$/);
    assert.match(rows[1]!, / put +7 /);
    assert.match(rows[2]!, / deleted +- /);

    const versions = jsonLines((await rtb(["versions", a, ...common, "--json"])).stdout);
    assert.equal(
      versions.map((v) => [v.change, v.size ?? null]),
      [
        ["put", 5],
        ["put", 7],
        ["deleted", null],
      ],
    );
    assert.is.not(versions[0]!.content, versions[1]!.content);
    // The time each version prints restores that version.
    for (const [i, expected] of [
      [0, "first"],
      [1, "second!"],
    ] as const) {
      const cat = await rtb(["cat", a, "--at", String(versions[i]!.at), ...common]);
      assert.is(cat.code, 0, cat.stderr);
      assert.is(cat.stdout, expected);
    }
    const gone = await rtb(["cat", a, "--at", String(versions[2]!.at), ...common]);
    assert.is(gone.code, 1, "deleted at its last version's time");

    const tree = jsonLines((await rtb(["versions", "-r", src, ...common, "--json"])).stdout);
    assert.ok(tree.some((v) => v.change === "deleted" && v.path === join(src, "sub", "k.txt")));
    assert.ok(tree.some((v) => v.change === "put" && v.path === join(src, "sub2", "k.txt")));

    const missing = await rtb(["versions", join(src, "never"), ...common]);
    assert.is(missing.code, 1);
    assert.match(missing.stderr, /never: no version in the backup/);

    const log = jsonLines((await rtb(["log", ...common, "--json"])).stdout);
    assert.is(log.length, 3);
    assert.equal(
      log.map((c) => c.seq),
      [0, 1, 2],
    );
    assert.is(log[0]!.bytes, 9);
    assert.is(log[2]!.deleted, 2);
    const since = jsonLines((await rtb(["log", ...common, "--json", "--since", String(log[1]!.at)])).stdout);
    assert.equal(
      since.map((c) => c.seq),
      [1, 2],
    );
    const ofSub = jsonLines((await rtb(["log", join(src, "sub"), ...common, "--json"])).stdout);
    assert.equal(
      ofSub.map((c) => c.seq),
      [0, 2],
    );
    const logText = await rtb(["log", ...common]);
    assert.match(logText.stdout, /#1 +3 put, 0 moved, 0 deleted, 10 B/);

    const diff = await rtb(["diff", String(log[0]!.at), String(log[1]!.at), src, ...common]);
    assert.is(diff.code, 0, diff.stderr);
    assert.ok(diff.stdout.includes(`M ${a} (content, size, mtime)`), diff.stdout);
    assert.ok(diff.stdout.includes(`+ ${join(src, "b.txt")}`), diff.stdout);
    const last = jsonLines((await rtb(["diff", String(log[1]!.at), "now", ...common, "--json"])).stdout);
    assert.ok(last.some((c) => c.event === "removed" && c.path === a));
    assert.ok(last.some((c) => c.event === "added" && c.path === join(src, "sub2")));

    // Relative moments: an hour ago nothing was backed up yet; a bad one is refused and the forms are named.
    const before = await rtb(["diff", "1 hour ago", "now", ...common, "--json"]);
    assert.ok(jsonLines(before.stdout).every((c) => c.event === "added"));
    const bad = await rtb(["list", "--at", "last tuesday", ...common]);
    assert.is(bad.code, 2);
    assert.match(bad.stderr, /--at.*"2h ago"|--at.*2h/s);
    assert.match(bad.stderr, /last tuesday/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("versions and log keep a local cache: the same answers as --no-cache, new commits seen, --cache-dir obeyed", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-history-cache-cli-"));
  try {
    const src = join(dir, "src");
    await mkdir(src, { recursive: true });
    const common = ["--store", join(dir, "store"), "--state", join(dir, "state")];
    const a = join(src, "a.txt");
    const backup = async (text: string) => {
      await writeFile(a, text);
      const r = await rtb(["backup", src, ...common, "--no-progress", "--quiet"]);
      assert.is(r.code, 0, r.stderr);
    };
    await backup("one");
    await backup("two!");
    const own = join(dir, "cache");
    for (const where of [[], ["--cache-dir", own]]) {
      const cached = await rtb(["versions", a, ...common, ...where, "--json"]);
      assert.is(cached.code, 0, cached.stderr);
      assert.is(cached.stderr, "");
      assert.is((await rtb(["versions", a, ...common, ...where, "--json"])).stdout, cached.stdout, "a warm cache answers the same");
      assert.is((await rtb(["versions", a, ...common, "--no-cache", "--json"])).stdout, cached.stdout);
      assert.is((await rtb(["log", ...common, ...where, "--json"])).stdout, (await rtb(["log", ...common, "--no-cache", "--json"])).stdout);
    }
    // The default place is $XDG_CACHE_HOME/rtb (the test runner gives each file its own), tagged as a cache.
    const home = join(process.env["XDG_CACHE_HOME"]!, "rtb");
    const mine = (await readdir(own)).filter((n) => n !== "CACHEDIR.TAG");
    assert.is(mine.length, 1, "one repository's cache under --cache-dir");
    assert.ok((await readdir(own)).includes("CACHEDIR.TAG"));
    assert.ok((await readdir(home)).includes(mine[0]!), "and the same repository's under the default place");
    assert.ok((await readdir(home)).includes("CACHEDIR.TAG"));
    assert.is((await stat(join(home, mine[0]!))).mode & 0o777, 0o700);

    await backup("three...");
    const after = jsonLines((await rtb(["versions", a, ...common, "--json"])).stdout);
    assert.equal(
      after.map((v) => v.size),
      [3, 4, 8],
      "a commit made after the cache was filled is shown",
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
