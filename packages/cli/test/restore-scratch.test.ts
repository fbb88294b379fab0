// `rtb restore` from a v2 store restores from a scratch tree on disk: in the cache directory, or, when that cannot be
// written, in a private directory it makes in the temp directory. Either way nothing of it is left afterwards.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rtb } from "./helpers/daemon.js";

/** Runs `rtb` with these variables set in the environment it inherits. */
async function rtbWith(env: Record<string, string>, args: string[]) {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await rtb(args);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

test("rtb restore's scratch tree: in the cache directory, else in a private temp directory; none is left", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-scratch-"));
  try {
    const src = join(dir, "src");
    await mkdir(join(src, "sub"), { recursive: true });
    for (let i = 0; i < 20; i++) await writeFile(join(src, "sub", `f${i}`), `file ${i}`);
    const store = join(dir, "store");
    const backup = await rtb(["backup", src, "--store", store, "--state", join(dir, "state"), "--no-progress"]);
    assert.is(backup.code, 0, backup.stderr);
    const temp = join(dir, "tmp");
    await mkdir(temp);

    const cache = join(dir, "cache");
    const first = await rtbWith({ XDG_CACHE_HOME: cache, TMPDIR: temp }, ["restore", src, "-r", "--store", store, "--to", join(dir, "out1")]);
    assert.is(first.code, 0, first.stderr);
    assert.is(await readFile(join(dir, "out1", src.slice(1), "sub", "f7"), "utf8"), "file 7");
    assert.equal(await readdir(join(cache, "rtb")), [], "the scratch tree was made in the cache directory and removed");

    // A file where the cache directory would be: the restore goes on in a directory of its own in the temp directory.
    await writeFile(join(dir, "not-a-directory"), "");
    const second = await rtbWith({ XDG_CACHE_HOME: join(dir, "not-a-directory"), TMPDIR: temp }, [
      "restore",
      src,
      "-r",
      "--store",
      store,
      "--to",
      join(dir, "out2"),
    ]);
    assert.is(second.code, 0, second.stderr);
    assert.is(await readFile(join(dir, "out2", src.slice(1), "sub", "f19"), "utf8"), "file 19");
    assert.equal(await readdir(temp), [], "its private temp directory is removed too");
    assert.ok(!existsSync(join(dir, "not-a-directory", "rtb")));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("rtb list (no argument) and rtb cat read from the scratch tree: path order, long paths among the rest, none left", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-scratch-"));
  try {
    const src = join(dir, "src");
    // A path too long for a key is keyed by a hash in the scratch tree; the listing still puts it in path order.
    const long = join("m", ..."stuvwxyz".split("").map((c) => c.repeat(250)));
    await mkdir(join(src, long, ".."), { recursive: true });
    for (const f of ["b.txt", "a.txt", "n.txt", "m/1.txt", "m/zz.txt", long]) await writeFile(join(src, f), `content of ${f}`);
    const store = join(dir, "store");
    const backup = await rtb(["backup", src, "--store", store, "--state", join(dir, "state"), "--no-progress"]);
    assert.is(backup.code, 0, backup.stderr);
    const cache = join(dir, "cache");
    const list = await rtbWith({ XDG_CACHE_HOME: cache }, ["list", "--store", store]);
    assert.is(list.code, 0, list.stderr);
    const paths = list.stdout
      .trim()
      .split("\n")
      .map((l) => l.slice(l.indexOf(src) + src.length));
    assert.equal(paths, ["/a.txt", "/b.txt", "/m/1.txt", `/${long}`, "/m/zz.txt", "/n.txt"]);
    const cat = await rtbWith({ XDG_CACHE_HOME: cache }, ["cat", join(src, long), "--store", store]);
    assert.is(cat.code, 0, cat.stderr);
    assert.is(cat.stdout, `content of ${long}`);
    const missing = await rtbWith({ XDG_CACHE_HOME: cache }, ["cat", join(src, "nope"), "--store", store]);
    assert.ok(missing.code !== 0 && missing.stderr.includes("not in the backup"), missing.stderr);
    assert.equal(await readdir(join(cache, "rtb")), [], "no scratch tree is left");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
