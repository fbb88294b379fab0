// `rtb list /`, `rtb list <a parent of a backed-up directory>`, subdirectories in `rtb list DIR` (implied ones too),
// and relative paths on list, cat and restore, which resolve against the current directory as on backup.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FileEntry } from "@rtbackup/core";
import { listEntries } from "../src/listing.js";
import { rtb } from "./helpers/daemon.js";
import { rtbIn } from "./helpers/rtbRun.js";

const entry = (path: string, type: FileEntry["type"] = "file"): FileEntry =>
  ({ path, type, size: 1, mtimeMs: 0, mode: type === "dir" ? 0o755 : 0o644, uid: 0, gid: 0, chunks: [] }) as unknown as FileEntry;

test("listEntries: children of a directory, implied directories, subtrees, files and missing paths", () => {
  const tree = new Map(
    [entry("/srv/data/x", "dir"), entry("/srv/data/x/a"), entry("/srv/data/x/sub", "dir"), entry("/srv/data/x/sub/b"), entry("/srv/data/x/l", "symlink"), entry("/home/u/f")].map(
      (e) => [e.path, e] as const,
    ),
  );
  const show = (paths: string[], recursive = false) => {
    const l = listEntries(tree, paths, recursive);
    return { shown: l.entries.map((e) => `${"implied" in e ? "implied" : e.type} ${e.path}`), missing: l.missing };
  };
  const cases: [string[], boolean, string[], string[]][] = [
    [["/"], false, ["implied /home", "implied /srv"], []],
    [["/srv"], false, ["implied /srv/data"], []],
    [["/srv/data"], false, ["dir /srv/data/x"], []],
    [["/srv/data/x"], false, ["file /srv/data/x/a", "symlink /srv/data/x/l", "dir /srv/data/x/sub"], []],
    [["/srv/data/x/"], false, ["file /srv/data/x/a", "symlink /srv/data/x/l", "dir /srv/data/x/sub"], []],
    [["/srv/data/x/a"], false, ["file /srv/data/x/a"], []],
    [["/srv/data/x/sub"], false, ["file /srv/data/x/sub/b"], []],
    [["/srv"], true, ["implied /srv/data", "dir /srv/data/x", "file /srv/data/x/a", "symlink /srv/data/x/l", "dir /srv/data/x/sub", "file /srv/data/x/sub/b"], []],
    [["/home", "/nope", "/srv/dat"], false, ["implied /home/u"], ["/nope", "/srv/dat"]],
  ];
  for (const [paths, recursive, shown, missing] of cases) assert.equal(show(paths, recursive), { shown, missing }, `${paths.join(" ")}${recursive ? " -r" : ""}`);
});

test("rtb list / and list <parent> show what is below; relative paths resolve against the current directory", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-listpaths-"));
  try {
    const root = join(dir, "srv", "data", "x");
    await mkdir(join(root, "sub"), { recursive: true });
    await writeFile(join(root, "a.txt"), "alpha");
    await writeFile(join(root, "sub", "b.txt"), "beta");
    const store = join(dir, "store");
    const backup = await rtb(["backup", root, "--store", store, "--state", join(dir, "state"), "--no-progress", "--quiet"]);
    assert.is(backup.code, 0, backup.stderr);
    const first = dir.split("/")[1]!;

    const slash = await rtb(["list", "/", "--store", store]);
    assert.is(slash.code, 0, slash.stderr);
    assert.match(slash.stdout, new RegExp(`^d ---- +- +- +/${first}\\n$`));

    const parent = await rtb(["list", join(dir, "srv"), "--store", store]);
    assert.is(parent.code, 0, parent.stderr);
    assert.match(parent.stdout, new RegExp(`^d ---- +- +- +${join(dir, "srv", "data")}\\n$`), "an implied directory");
    const parentJson = await rtb(["list", join(dir, "srv"), "--store", store, "--json"]);
    assert.equal(JSON.parse(parentJson.stdout), { event: "entry", path: join(dir, "srv", "data"), type: "dir", implied: true });

    const x = await rtb(["list", root, "--store", store]);
    assert.is(x.code, 0, x.stderr);
    const lines = x.stdout.trim().split("\n");
    assert.is(lines.length, 2, x.stdout);
    assert.match(lines[0]!, new RegExp(`^- 0644 +5 .* ${join(root, "a.txt")}$`));
    assert.match(lines[1]!, new RegExp(`^d 0755 +\\d+ .* ${join(root, "sub")}$`), "a subdirectory with its own entry");

    // Relative paths, as `rtb backup` takes them: from the current directory.
    const rel = await rtbIn(["list", "x", "--store", store], { cwd: join(dir, "srv", "data") });
    assert.is(rel.code, 0, rel.stderr);
    assert.is(rel.stdout, x.stdout);
    const cat = await rtbIn(["cat", "sub/b.txt", "--store", store], { cwd: root });
    assert.is(cat.code, 0, cat.stderr);
    assert.is(cat.stdout, "beta");
    const out = join(dir, "out");
    const restore = await rtbIn(["restore", "sub", "--store", store, "--to", out, "--quiet"], { cwd: root });
    assert.is(restore.code, 0, restore.stderr);
    assert.is(await readFile(join(out, root.slice(1), "sub", "b.txt"), "utf8"), "beta");
    const missing = await rtbIn(["list", "nothing-here", "--store", store], { cwd: root });
    assert.is(missing.code, 1);
    assert.match(missing.stderr, new RegExp(`rtb list: ${join(root, "nothing-here")}: not in the backup`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
