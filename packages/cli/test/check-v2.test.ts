import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rtb } from "./helpers/daemon.js";

const lines = (stdout: string) =>
  stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, any>);

/** Every pack file of a local store. */
async function packsOf(store: string): Promise<string[]> {
  const out: string[] = [];
  for (const group of await readdir(join(store, "packs")))
    for (const name of await readdir(join(store, "packs", group))) out.push(join(store, "packs", group, name));
  return out.sort();
}

/** Two `rtb backup` runs into a new (v2) store: the first file set, then a second, so that each is in its own pack. */
async function twoPacks() {
  const dir = await mkdtemp(join(tmpdir(), "rtb-check-v2-"));
  const src = join(dir, "src");
  const store = join(dir, "store");
  const config = join(dir, "rtb.config.json");
  await mkdir(src);
  await writeFile(config, JSON.stringify({ parameters: { monitorFileSystemTypes: ["tmpfs"] } }));
  const args = ["--config", config, "--store", store, "--state", join(dir, "state")];
  await writeFile(join(src, "first.txt"), "stored in the first pack ".repeat(40));
  assert.is((await rtb(["backup", src, ...args, "--no-progress", "--quiet"])).code, 0);
  const [firstPack] = await packsOf(store);
  await writeFile(join(src, "second.txt"), "stored in the second pack ".repeat(40));
  assert.is((await rtb(["backup", src, ...args, "--no-progress", "--quiet"])).code, 0);
  assert.is((await packsOf(store)).length, 2);
  return { dir, src, store, args, firstPack: firstPack! };
}

test("rtb check on a v2 store: 0 when healthy; a flipped byte in a pack is found by --read-data, naming the pack and the path", async () => {
  const f = await twoPacks();
  try {
    const ok = await rtb(["check", ...f.args]);
    assert.is(ok.code, 0, ok.stderr + ok.stdout);
    assert.match(ok.stdout, /^check: 2 batch\(es\), 0 checkpoint\(s\), last sequence 1; 2 chunk\(s\) referenced, 2 present; 0 orphan/m);
    // A flipped byte inside the first pack's only blob: the listing cannot see it, reading does.
    const handle = await open(f.firstPack, "r+");
    const at = Buffer.alloc(1);
    await handle.read(at, 0, 1, 12);
    await handle.write(Buffer.from([at[0]! ^ 0xff]), 0, 1, 12);
    await handle.close();
    assert.is((await rtb(["check", ...f.args])).code, 0, "the size is right: the listing alone finds nothing");
    const read = await rtb(["check", "--read-data", "--json", ...f.args]);
    assert.is(read.code, 5, read.stderr + read.stdout);
    const damage = lines(read.stdout).filter((e) => e.event === "damage");
    assert.is(damage.length, 1);
    assert.is(damage[0]!.kind, "chunk-corrupt");
    assert.ok(f.firstPack.endsWith(damage[0]!.key), damage[0]!.key);
    assert.equal(
      damage[0]!.dependents.map((d: any) => [d.path, d.current]),
      [[join(f.src, "first.txt"), true]],
    );
    const repair = await rtb(["check", "--repair", ...f.args]);
    assert.is(repair.code, 2, repair.stderr);
    assert.match(repair.stderr, /--repair: is not available for format v2 repositories yet/);
  } finally {
    await rm(f.dir, { recursive: true, force: true });
  }
});

test("a lost pack on a v2 store: check names it and the path; restore brings back every other file and exits 1", async () => {
  const f = await twoPacks();
  try {
    await rm(f.firstPack);
    const check = await rtb(["check", ...f.args]);
    assert.is(check.code, 5, check.stdout);
    assert.match(
      check.stdout,
      /DAMAGE pack packs\/[0-9a-f]{2}\/[0-9a-f]{64} \(holding blob [0-9a-f]{64}\) is missing; needed by 1 version\(s\) of 1 path\(s\), 1 of them current/,
    );
    const to = join(f.dir, "restored");
    const restore = await rtb(["restore", "/", "-r", "--to", to, ...f.args, "--quiet"]);
    assert.is(restore.code, 1, restore.stderr);
    assert.match(restore.stderr, /first\.txt/);
    assert.is(await readFile(join(to, f.src.slice(1), "second.txt"), "utf8"), "stored in the second pack ".repeat(40));
  } finally {
    await rm(f.dir, { recursive: true, force: true });
  }
});

test.run();
