// Restore and list salvage a damaged index: a batch in the middle that cannot be read (truncated) or is gone (a gap)
// is named, everything the other batches hold is still listed and restored, and the exit status is 4. Before, one
// bad object meant nothing at all was restored.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalDirectoryStorage, Repository, loadTree } from "@rtbackup/core";
import { rtb } from "./helpers/daemon.js";

async function batchFiles(store: string): Promise<string[]> {
  const out: string[] = [];
  const base = join(store, "index", "batch");
  for (const group of (await readdir(base)).sort()) for (const name of (await readdir(join(base, group))).sort()) out.push(join(base, group, name));
  return out;
}

for (const damage of ["truncated", "deleted"] as const) {
  test(`a ${damage} batch in the middle: restore and list name it, keep the rest, exit 4`, async () => {
    const dir = await mkdtemp(join(tmpdir(), "rtb-salvage-"));
    try {
      const src = join(dir, "src");
      const store = join(dir, "store");
      const config = join(dir, "rtb.config.json");
      await writeFile(config, JSON.stringify({ parameters: { monitorFileSystemTypes: ["tmpfs"], repositoryFormat: 1 } }));
      const args = ["--config", config, "--store", store, "--state", join(dir, "state")];
      await mkdir(src);
      // Three runs, three batches: a.txt, then b.txt, then c.txt and a new a.txt.
      for (const [name, content] of [
        ["a.txt", "a1"],
        ["b.txt", "b1"],
        ["c.txt", "c1"],
      ] as const) {
        await writeFile(join(src, name), content);
        if (name === "c.txt") {
          await writeFile(join(src, "a.txt"), "a2");
          await utimes(join(src, "a.txt"), 1_790_000_000, 1_790_000_000);
        }
        const r = await rtb(["backup", src, ...args, "--no-progress", "--quiet"]);
        assert.is(r.code, 0, r.stderr);
      }
      const batches = await batchFiles(store);
      assert.is(batches.length, 3);
      const middle = batches[1]!;
      if (damage === "truncated") await truncate(middle, 10);
      else await rm(middle);
      const key = middle.slice(store.length + 1);

      const list = await rtb(["list", ...args]);
      assert.is(list.code, 4, list.stderr);
      assert.match(list.stderr, damage === "truncated" ? key : /the index has a gap/);
      assert.match(list.stdout, "a.txt");
      assert.match(list.stdout, "c.txt");
      assert.not.match(list.stdout, "b.txt", "what only the lost batch held is not known");

      const to = join(dir, "restored");
      const restore = await rtb(["restore", "/", "-r", "--to", to, ...args, "--quiet"]);
      assert.is(restore.code, 4, restore.stderr);
      assert.match(restore.stderr, /index damage/);
      assert.is(await readFile(join(to, src, "a.txt"), "utf8"), "a2", "the newest version from the batch after the damage");
      assert.is(await readFile(join(to, src, "c.txt"), "utf8"), "c1");

      const json = await rtb(["list", "--json", ...args]);
      const events = json.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { event: string; key?: string | null });
      assert.ok(
        events.some((e) => e.event === "damage"),
        json.stdout,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test("the newest batch lost under a checkpoint that covers it: list and restore say so and exit 4, not an older state with 0", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-salvage-"));
  try {
    const src = join(dir, "src");
    const store = join(dir, "store");
    const config = join(dir, "rtb.config.json");
    await writeFile(config, JSON.stringify({ parameters: { monitorFileSystemTypes: ["tmpfs"], repositoryFormat: 1 } }));
    const args = ["--config", config, "--store", store, "--state", join(dir, "state")];
    await mkdir(src);
    for (const name of ["a.txt", "b.txt"]) {
      await writeFile(join(src, name), name);
      const r = await rtb(["backup", src, ...args, "--no-progress", "--quiet"]);
      assert.is(r.code, 0, r.stderr);
    }
    // A checkpoint of the whole tree (as the agent writes one every 50,000 records), then its newest batch is lost.
    const repo = await Repository.open(new LocalDirectoryStorage({ path: store }));
    const tree = await loadTree(repo);
    const checkpoint = await repo.writeCheckpoint(tree.sequence, tree.time, tree.entries.values(), tree.entries.size);
    const batches = await batchFiles(store);
    await rm(batches[batches.length - 1]!);

    const list = await rtb(["list", ...args]);
    assert.is(list.code, 4, list.stderr);
    assert.match(list.stderr, checkpoint);
    assert.match(list.stderr, new RegExp(`no batch ${tree.sequence} is stored`));
    assert.match(list.stdout, "a.txt");
    assert.not.match(list.stdout, "b.txt", "the state the stored batches give");
    const to = join(dir, "restored");
    const restore = await rtb(["restore", "/", "-r", "--to", to, ...args, "--quiet"]);
    assert.is(restore.code, 4, restore.stderr);
    assert.is(await readFile(join(to, src, "a.txt"), "utf8"), "a.txt");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
