import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalDirectoryStorage, Repository, loadTree } from "@rtbackup/core";
import { rtb } from "./helpers/daemon.js";

test("two rtb backup processes with their own state directories on one store: every commit of both is visible", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-writers-"));
  try {
    const store = join(dir, "store");
    const writers = ["alpha", "beta"].map((name) => ({ name, src: join(dir, name), state: join(dir, `state-${name}`) }));
    for (const w of writers) await mkdir(w.src);
    const rounds = 5;
    for (let round = 0; round < rounds; round++) {
      for (const w of writers) await writeFile(join(w.src, `file-${round}.txt`), `${w.name} ${round}`);
      // Started together, both read the index at the same point and pick the same next sequence number.
      const runs = await Promise.all(writers.map((w) => rtb(["backup", w.src, "--store", store, "--state", w.state, "--no-progress", "--quiet"])));
      for (const run of runs) assert.is(run.code, 0, run.stderr);
    }
    const repo = await Repository.open(new LocalDirectoryStorage({ path: store }));
    const tree = await loadTree(repo);
    const missing: string[] = [];
    for (const w of writers) {
      for (let round = 0; round < rounds; round++) {
        const path = join(w.src, `file-${round}.txt`);
        if (!tree.entries.has(path)) missing.push(path);
      }
    }
    assert.equal(missing, [], `commits lost: ${missing.join(", ")}`);
    // The CLI's own listing agrees, and each writer's next run finds nothing to do.
    const list = await rtb(["list", "--store", store]);
    assert.is(list.code, 0, list.stderr);
    for (const w of writers) assert.ok(list.stdout.includes(`${w.name}/file-${rounds - 1}.txt`), list.stdout);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("rtb backup on a store whose index lost a batch exits 4 naming the gap, and commits nothing", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-damaged-"));
  try {
    const src = join(dir, "src");
    const store = join(dir, "store");
    await mkdir(src);
    for (const name of ["a", "b", "c"]) {
      await writeFile(join(src, name), name);
      const run = await rtb(["backup", src, "--store", store, "--state", join(dir, "state"), "--no-progress", "--quiet"]);
      assert.is(run.code, 0, run.stderr);
    }
    const group = join(store, "index", "batch", (await readdir(join(store, "index", "batch")))[0]!);
    const batches = (await readdir(group)).sort();
    assert.ok(batches.length >= 3);
    await rm(join(group, batches[1]!));
    await writeFile(join(src, "d"), "d");
    const run = await rtb(["backup", src, "--store", store, "--state", join(dir, "fresh-state"), "--no-progress", "--quiet"]);
    assert.is(run.code, 4, run.stderr);
    assert.match(run.stderr, /gap: no batch between 0 and 2/);
    assert.is((await readdir(group)).length, batches.length - 1, "nothing was committed on top");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
