import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalDirectoryStorage, Repository, isV2, loadTree, openRepository } from "@rtbackup/core";
import { daemonWorkspace, rtb, send, startDaemon, waitForRestoreToMatch } from "./helpers/daemon.js";

test("two rtb backup processes with their own state directories on one store: every commit of both is visible", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-writers-"));
  try {
    const store = join(dir, "store");
    const writers = ["alpha", "beta"].map((name) => ({ name, src: join(dir, name), state: join(dir, `state-${name}`) }));
    for (const w of writers) await mkdir(w.src);
    const rounds = 5;
    for (let round = 0; round < rounds; round++) {
      for (const w of writers) await writeFile(join(w.src, `file-${round}.txt`), `${w.name} ${round}`);
      // Started together: each commits to its own lane (v2), so neither waits for nor collides with the other.
      const runs = await Promise.all(writers.map((w) => rtb(["backup", w.src, "--store", store, "--state", w.state, "--no-progress", "--quiet"])));
      for (const run of runs) assert.is(run.code, 0, run.stderr);
    }
    const repo = await openRepository(new LocalDirectoryStorage({ path: store }));
    assert.ok(isV2(repo));
    const tree = await loadTree(repo);
    assert.equal(tree.damage, []);
    const missing: string[] = [];
    for (const w of writers) {
      for (let round = 0; round < rounds; round++) {
        const path = join(w.src, `file-${round}.txt`);
        if (!tree.entries.has(path)) missing.push(path);
      }
    }
    assert.equal(missing, [], `commits lost: ${missing.join(", ")}`);
    // The CLI's own listing agrees.
    const list = await rtb(["list", "--store", store]);
    assert.is(list.code, 0, list.stderr);
    for (const w of writers) assert.ok(list.stdout.includes(`${w.name}/file-${rounds - 1}.txt`), list.stdout);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("v1: rtb backup on a store whose index lost a batch exits 4 naming the gap, and commits nothing", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-damaged-"));
  try {
    const src = join(dir, "src");
    const store = join(dir, "store");
    await mkdir(src);
    // Format v1: one journal for all writers, numbered batches (v2's lanes are tested below).
    await Repository.open(new LocalDirectoryStorage({ path: store }), { create: { chunkSize: 1 << 20 } });
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

test("v1: the daemon stops with exit 4 when the batch it built on disappears, and commits nothing on top", async () => {
  const ws = await daemonWorkspace({ repositoryFormat: 1 });
  try {
    await writeFile(join(ws.src, "one.txt"), "1");
    const daemon = await startDaemon(ws);
    await waitForRestoreToMatch(ws);
    const group = join(ws.store, "index", "batch", (await readdir(join(ws.store, "index", "batch")))[0]!);
    const batches = (await readdir(group)).sort();
    await rm(join(group, batches.at(-1)!));
    const exited = new Promise<number | null>((resolve) => daemon.once("exit", (code) => resolve(code)));
    await writeFile(join(ws.src, "two.txt"), "2");
    await send(ws, [{ type: "update", path: join(ws.src, "two.txt") }]);
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), 20_000)))]);
    clearTimeout(timer);
    const log = (daemon as unknown as { log: () => string }).log();
    assert.is(code, 4, log);
    assert.match(log, /is missing/);
    assert.is((await readdir(group)).length, batches.length - 1, "nothing was committed on top");
  } finally {
    await ws.cleanup();
  }
});

test("v2: rtb backup whose own lane lost its last batch exits 4 naming it, and commits nothing on top", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-lane-lost-"));
  try {
    const src = join(dir, "src");
    const store = join(dir, "store");
    const state = join(dir, "state");
    await mkdir(src);
    for (const name of ["a", "b"]) {
      await writeFile(join(src, name), name);
      const run = await rtb(["backup", src, "--store", store, "--state", state, "--no-progress", "--quiet"]);
      assert.is(run.code, 0, run.stderr);
    }
    const [lane] = await readdir(join(store, "lanes"));
    const group = join(store, "lanes", lane!, "batch", (await readdir(join(store, "lanes", lane!, "batch")))[0]!);
    const batches = (await readdir(group)).sort();
    assert.is(batches.length, 2);
    await rm(join(group, batches[1]!));
    await writeFile(join(src, "c"), "c");
    const run = await rtb(["backup", src, "--store", store, "--state", state, "--no-progress", "--quiet"]);
    assert.is(run.code, 4, run.stderr);
    assert.match(run.stderr, /last index batch .* is no longer in the store/);
    assert.equal((await readdir(group)).sort(), batches.slice(0, 1), "nothing was committed on top");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
