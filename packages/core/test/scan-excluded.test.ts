// A scan does not walk a directory the path filters exclude with everything under it (.git, a Prefix), and keeps the
// per-path answers wherever a rule could let something under it back in. What the cache tracked there is deleted,
// as when each path was asked.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PathFilter, PathFilterPlugin, type PathFilterRule } from "@rtbackup/core";
import { backedUpFiles, backupOnce, workspace, type Workspace } from "./helpers/tree.js";

const exclude = (type: PathFilterRule["type"], value: string): PathFilterRule => ({ type, value, action: "Exclude" });
const include = (type: PathFilterRule["type"], value: string): PathFilterRule => ({ type, value, action: "Include" });

/** One backup with the path filters `rules`, through core's PathFilterPlugin (the CLI adds it; a bare engine does not). */
const withFilters = (ws: Workspace, rules: PathFilterRule[]) => backupOnce(ws, { pathFilters: rules }, undefined, [new PathFilterPlugin()]);

/** A directory chain under `dir` whose full path is longer than PATH_MAX: listing it by path fails (ENAMETOOLONG). */
function tooDeep(dir: string): void {
  // In a child process, each level made relative to the last (a shell's cd tracks the whole path and gives up).
  const script = `for (let i = 0; i < 25; i++) { fs.mkdirSync("${"d".repeat(200)}"); process.chdir("${"d".repeat(200)}"); }`;
  execFileSync(process.execPath, ["-e", script], { cwd: dir });
}

test("PathFilter.excludesSubtree: only when the deciding Exclude covers the subtree and no earlier Include can reach into it", () => {
  const cases: [PathFilterRule[], string, boolean][] = [
    [[exclude("Component", ".git")], "/h/p/.git", true],
    [[exclude("Prefix", "/h/cache/")], "/h/cache", true],
    [[exclude("Prefix", "/h/cache")], "/h/cache/sub", true],
    [[exclude("RegularExpression", "\\.tmp$")], "/h/x.tmp", false],
    [[include("Prefix", "/h/cache/keep"), exclude("Prefix", "/h/cache")], "/h/cache", false],
    [[include("Prefix", "/h/cache/keep"), exclude("Prefix", "/h/cache")], "/h/cache/other", true],
    [[include("Prefix", "/elsewhere"), exclude("Component", ".git")], "/h/.git", true],
    [[include("Component", "keep"), exclude("Component", ".git")], "/h/.git", false],
    [[include("RegularExpression", "\\.conf$"), exclude("Prefix", "/h")], "/h", false],
    [[exclude("Prefix", "/h/a")], "/h", false],
    [[], "/h", false],
  ];
  for (const [rules, path, expected] of cases) assert.is(new PathFilter(rules).excludesSubtree(path), expected, `${JSON.stringify(rules)} ${path}`);
});

test("excluded subtrees are not walked; those a rule could reach into are, path by path", async () => {
  const ws = await workspace();
  try {
    const src = ws.src;
    for (const d of ["proj/.git/objects", "cache/keep", "cache/junk", "x.tmp"]) await mkdir(join(src, d), { recursive: true });
    for (const f of ["proj/main.c", "proj/.git/HEAD", "proj/.git/objects/ab", "cache/keep/k.txt", "cache/junk/j.txt", "x.tmp/inner.txt", "top.txt"]) {
      await writeFile(join(src, f), f);
    }
    // Were these walked, listing them by path would fail and the scan would report them unreadable.
    tooDeep(join(src, "proj/.git"));
    tooDeep(join(src, "cache/junk"));
    const rules = [
      include("Prefix", join(src, "cache/keep")),
      exclude("Prefix", join(src, "cache")),
      exclude("Component", ".git"),
      exclude("RegularExpression", "\\.tmp$"),
    ];
    const result = await withFilters(ws, rules);
    assert.equal(result.unreadable, [], "nothing under an excluded subtree was listed");
    assert.is(result.excludedDirectories, 2, "proj/.git and cache/junk");
    // cache is walked (its keep is included); x.tmp is excluded itself but a regular expression says nothing of its
    // subtree, so inner.txt is asked and included, as before.
    assert.equal(await backedUpFiles(ws), ["/cache/keep/k.txt", "/proj/main.c", "/top.txt", "/x.tmp/inner.txt"]);
  } finally {
    execFileSync("rm", ["-rf", ws.dir]);
    await ws.cleanup();
  }
});

test("what the cache tracked under a subtree that is now excluded is deleted, the directory tracked or not", async () => {
  const ws = await workspace();
  try {
    const src = ws.src;
    // A path too long for a key is tracked by a hash of it, which no key range under `old` lists.
    const long = join("old", ..."stuvwxyz".split("").map((c) => c.repeat(250)), "l.txt");
    for (const d of ["build/out", "old/deep", join(long, "..")]) await mkdir(join(src, d), { recursive: true });
    for (const f of ["build/out/a.o", "build/b.o", "old/deep/x.txt", "old/y.txt", "keep.txt", long]) await writeFile(join(src, f), "x");
    // First `old` itself is excluded by a regular expression, its files are not: they are tracked, it is not.
    await withFilters(ws, [exclude("RegularExpression", "/old$")]);
    assert.equal(await backedUpFiles(ws), ["/build/b.o", "/build/out/a.o", "/keep.txt", "/old/deep/x.txt", `/${long}`, "/old/y.txt"]);
    const result = await withFilters(ws, [exclude("Prefix", join(src, "build")), exclude("Prefix", join(src, "old"))]);
    assert.is(result.excludedDirectories, 2);
    assert.equal(await backedUpFiles(ws), ["/keep.txt"]);
  } finally {
    await ws.cleanup();
  }
});

test.run();
