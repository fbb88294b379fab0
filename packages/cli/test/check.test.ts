import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rtb } from "./helpers/daemon.js";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");
const objectOf = (store: string, id: string) => join(store, "data", id.slice(0, 2), id);
const lines = (stdout: string) =>
  stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, any>);

// Without ZFS in the preset: a ZFS pool another test mounted must not change what these tests see.
async function noZfsConfig(dir: string): Promise<string> {
  const file = join(dir, "rtb.config.json");
  await writeFile(file, JSON.stringify({ parameters: { monitorFileSystemTypes: ["tmpfs"], repositoryFormat: 1 } }));
  return file;
}

interface Fixture {
  dir: string;
  src: string;
  store: string;
  state: string;
  args: string[];
}

async function backedUp(files: Record<string, string>): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), "rtb-check-"));
  const src = join(dir, "src");
  const store = join(dir, "store");
  const state = join(dir, "state");
  await mkdir(src);
  for (const [name, content] of Object.entries(files)) await writeFile(join(src, name), content);
  const config = await noZfsConfig(dir);
  const backup = await rtb(["backup", src, "--config", config, "--store", store, "--state", state, "--no-progress", "--quiet"]);
  assert.is(backup.code, 0, backup.stderr);
  return { dir, src, store, state, args: ["--config", config, "--store", store, "--state", state] };
}

test("rtb check: 0 on a healthy store; a deleted chunk exits 5 naming the object and the escaped path that needs it", async () => {
  const evil = "evil\u001b[2Jname\n.txt";
  const f = await backedUp({ [evil]: "needed content", "fine.txt": "fine" });
  try {
    const ok = await rtb(["check", ...f.args]);
    assert.is(ok.code, 0, ok.stderr + ok.stdout);
    assert.match(ok.stdout, /^check: 1 batch\(es\), 0 checkpoint\(s\), last sequence 0; 2 chunk\(s\) referenced, 2 present; 0 orphan/m);
    const id = sha("needed content");
    await rm(objectOf(f.store, id));
    const bad = await rtb(["check", ...f.args]);
    assert.is(bad.code, 5, bad.stderr + bad.stdout);
    assert.match(bad.stdout, `DAMAGE content object data/${id.slice(0, 2)}/${id} is missing`);
    assert.ok(bad.stdout.includes(`needed by ${f.src}/evil\\x1b[2Jname\\n.txt (batch 0, `), bad.stdout);
    assert.not.match(bad.stdout, /\u001b/, "no raw ESC reaches the terminal");
    const json = await rtb(["check", "--json", ...f.args]);
    assert.is(json.code, 5);
    const events = lines(json.stdout);
    const damage = events.filter((e) => e.event === "damage");
    assert.is(damage.length, 1);
    assert.is(damage[0]!.kind, "chunk-missing");
    assert.is(damage[0]!.chunk, id);
    assert.equal(
      damage[0]!.dependents.map((d: any) => [d.path, d.seq, d.current]),
      [[join(f.src, evil), 0, true]],
    );
    const summary = events.at(-1)!;
    assert.equal([summary.event, summary.damaged, summary.ok], ["summary", 1, false]);
  } finally {
    await rm(f.dir, { recursive: true, force: true });
  }
});

test("rtb check --read-data finds a flipped byte the listing cannot; --read-data-subset 100% reads the same; a missing value is an error", async () => {
  const f = await backedUp({ "a.txt": "aaaa", "b.txt": "bbbb", "c.txt": "cccc" });
  try {
    const id = sha("bbbb");
    const bytes = await readFile(objectOf(f.store, id));
    bytes[0] ^= 0x20;
    await writeFile(objectOf(f.store, id), bytes);
    assert.is((await rtb(["check", ...f.args])).code, 0);
    const read = await rtb(["check", "--read-data", "--json", ...f.args]);
    assert.is(read.code, 5, read.stderr);
    const readEvents = lines(read.stdout);
    assert.equal(
      readEvents.filter((e) => e.event === "damage").map((e) => [e.kind, e.chunk]),
      [["chunk-corrupt", id]],
    );
    const subset = await rtb(["check", "--read-data-subset", "100%", "--json", ...f.args]);
    assert.is(subset.code, 5);
    const a = readEvents.at(-1)!;
    const b = lines(subset.stdout).at(-1)!;
    assert.equal([b.chunksRead, b.damaged], [a.chunksRead, a.damaged]);
    assert.is(a.chunksRead, 3);
    const none = await rtb(["check", "--read-data-subset", "1/1000000", "--json", ...f.args]);
    assert.ok(lines(none.stdout).at(-1)!.chunksRead < 3);
    const missing = await rtb(["check", ...f.args, "--read-data-subset"]);
    assert.is(missing.code, 2);
    assert.match(missing.stderr, /--read-data-subset:? needs a value/);
    const wrong = await rtb(["check", "--read-data-subset", "150%", ...f.args]);
    assert.is(wrong.code, 2);
    assert.match(wrong.stderr, /"150%"/);
  } finally {
    await rm(f.dir, { recursive: true, force: true });
  }
});

test("rtb check --repair re-uploads a deleted chunk from the file on disk, then rtb check exits 0", async () => {
  const f = await backedUp({ "keep.txt": "content still on disk", "changed.txt": "old content" });
  try {
    const kept = sha("content still on disk");
    const changed = sha("old content");
    await rm(objectOf(f.store, kept));
    await rm(objectOf(f.store, changed));
    await writeFile(join(f.src, "changed.txt"), "new content");
    const repair = await rtb(["check", "--repair", ...f.args]);
    assert.is(repair.code, 5, "the changed file's old chunk is left");
    assert.match(repair.stdout, `REPAIRED data/${kept.slice(0, 2)}/${kept} from ${join(f.src, "keep.txt")}`);
    assert.match(repair.stdout, `NOT REPAIRED data/${changed.slice(0, 2)}/${changed}`);
    assert.match(repair.stdout, /recorded in the state cache: 1 chunk\(s\) no longer believed stored/);
    assert.is(await readFile(objectOf(f.store, kept), "utf8"), "content still on disk");
    await rm(join(f.src, "changed.txt"));
    const again = await rtb(["check", "--json", ...f.args]);
    assert.equal(
      lines(again.stdout)
        .filter((e) => e.event === "damage")
        .map((e) => e.chunk),
      [changed],
    );
    // The old version is lost for good; with the content back on disk the next backup heals it.
    await writeFile(join(f.src, "copy.txt"), "old content");
    assert.is((await rtb(["backup", f.src, ...f.args, "--no-progress", "--quiet"])).code, 0);
    const clean = await rtb(["check", "--read-data", ...f.args]);
    assert.is(clean.code, 0, clean.stdout);
  } finally {
    await rm(f.dir, { recursive: true, force: true });
  }
});

test("rtb check: a lost newest batch is found against the state cache of --state", async () => {
  const f = await backedUp({ "one.txt": "one" });
  try {
    await new Promise((r) => setTimeout(r, 5)); // batch times are in ms: the next batch must be later
    await writeFile(join(f.src, "two.txt"), "two");
    assert.is((await rtb(["backup", f.src, ...f.args, "--no-progress", "--quiet"])).code, 0);
    const group = join(f.store, "index", "batch", "00000000");
    const newest = (await readdir(group)).sort().at(-1)!;
    await rm(join(group, newest));
    const withCache = await rtb(["check", ...f.args]);
    assert.is(withCache.code, 5, withCache.stdout + withCache.stderr);
    assert.match(withCache.stdout, "DAMAGE the newest index batch 1 is missing: the local state cache applied batch 1, the store ends at 0");
    const storeOnly = await rtb(["check", "--config", join(f.dir, "rtb.config.json"), "--store", f.store, "--state", join(f.dir, "no-state")]);
    assert.is(storeOnly.code, 0, "the store alone cannot tell");
  } finally {
    await rm(f.dir, { recursive: true, force: true });
  }
});

test("rtb check: a store with no repository is an operational error (1), not damage", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-check-"));
  try {
    const r = await rtb(["check", "--config", await noZfsConfig(dir), "--store", join(dir, "nothing-here"), "--state", join(dir, "state")]);
    assert.is(r.code, 1, r.stdout);
    assert.match(r.stderr, /no repository at local:/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
