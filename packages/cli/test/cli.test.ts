import { test } from "uvu";
import * as assert from "uvu/assert";
import { chmod, lstat, mkdir, mkdtemp, open, readdir, readlink, rm, symlink, truncate, utimes, writeFile, readFile } from "node:fs/promises";
import { lstatSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { translateDqdArguments } from "../src/dqdArguments.js";
import { rtb } from "./helpers/daemon.js";

async function describeTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function visit(dir: string, rel: string) {
    for (const name of (await readdir(dir)).sort()) {
      const p = join(dir, name);
      const st = await lstat(p);
      const key = `${rel}/${name}`;
      if (st.isSymbolicLink()) out[key] = `link ${await readlink(p)}`;
      else if (st.isDirectory()) {
        await visit(p, key);
        out[key] = `dir ${(st.mode & 0o7777).toString(8)} ${Math.floor(st.mtimeMs)}`;
      } else out[key] = `file ${(st.mode & 0o7777).toString(8)} ${Math.floor(st.mtimeMs)} ${(await readFile(p)).toString("base64")}`;
    }
  }
  await visit(root, "");
  return out;
}

test("quick start: rtb backup into a local store, restore into an empty directory is identical (content, modes, mtimes, symlinks)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-cli-"));
  try {
    const src = join(dir, "sample");
    await mkdir(join(src, "a", "b"), { recursive: true });
    await writeFile(join(src, "a", "b", "deep.txt"), "deep");
    await writeFile(join(src, "empty"), "");
    await writeFile(join(src, "name with spaces ü"), "x");
    await writeFile(join(src, "exec.sh"), "#!/bin/sh\n");
    await chmod(join(src, "exec.sh"), 0o755);
    await symlink("a/b/deep.txt", join(src, "link"));
    await utimes(join(src, "a", "b", "deep.txt"), 1_500_000_000, 1_500_000_000);
    await utimes(join(src, "a"), 1_400_000_000, 1_400_000_000);
    const store = join(dir, "store");
    const state = join(dir, "state");
    const backup = await rtb(["backup", src, "--store", store, "--state", state, "--json", "--no-progress"]);
    assert.is(backup.code, 0, backup.stderr);
    const summary = JSON.parse(backup.stdout.trim().split("\n").at(-1)!);
    assert.is(summary.failed, 0);
    const out = join(dir, "restored");
    const restore = await rtb(["restore", "/", "-r", "--store", store, "--to", out, "--json"]);
    assert.is(restore.code, 0, restore.stderr);
    const events = restore.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.ok(events.filter((e) => e.event === "restored").length >= 7);
    assert.equal(await describeTree(join(out, src.slice(1))), await describeTree(src));
    // list and cat read the index alone.
    const list = await rtb(["list", "--store", store]);
    assert.is(list.code, 0);
    assert.ok(list.stdout.includes("deep.txt") && list.stdout.includes("link -> a/b/deep.txt"));
    const cat = await rtb(["cat", join(src, "a", "b", "deep.txt"), "--store", store]);
    assert.is(cat.stdout, "deep");
    // A second backup with a modification; --at gets the old version back.
    const before = Date.now();
    await new Promise((r) => setTimeout(r, 5)); // batch times are in ms: the next batch must be later
    await writeFile(join(src, "a", "b", "deep.txt"), "changed");
    assert.is((await rtb(["backup", src, "--store", store, "--state", state, "--no-progress"])).code, 0);
    assert.is((await rtb(["cat", join(src, "a", "b", "deep.txt"), "--store", store])).stdout, "changed");
    assert.is((await rtb(["cat", join(src, "a", "b", "deep.txt"), "--store", store, "--at", new Date(before).toISOString()])).stdout, "deep");
    // Missing paths are reported with a non-zero exit.
    const missing = await rtb(["restore", "/no/such/file", "--store", store, "--to", out]);
    assert.is(missing.code, 1);
    assert.match(missing.stderr, /not in the backup/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("restore leaves the holes of a sparse file; --no-sparse writes its zeros out", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-cli-"));
  try {
    const src = join(dir, "src");
    await mkdir(src);
    await writeFile(join(src, "disk.img"), "boot");
    await truncate(join(src, "disk.img"), 64 * 1024 * 1024);
    const store = join(dir, "store");
    assert.is((await rtb(["backup", src, "--store", store, "--state", join(dir, "state"), "--no-progress"])).code, 0);
    const blocks = async (out: string) => {
      const path = join(out, src.slice(1), "disk.img");
      assert.is((await readFile(path)).subarray(0, 4).toString(), "boot");
      const handle = await open(path, "r");
      await handle.sync();
      const st = await handle.stat().finally(() => handle.close());
      assert.is(st.size, 64 * 1024 * 1024);
      return st.blocks * 512;
    };
    assert.is((await rtb(["restore", "/", "-r", "--store", store, "--to", join(dir, "sparse"), "--no-progress"])).code, 0);
    assert.ok((await blocks(join(dir, "sparse"))) < 1024 * 1024, "holes left");
    assert.is((await rtb(["restore", "/", "-r", "--store", store, "--to", join(dir, "full"), "--no-progress", "--no-sparse"])).code, 0);
    assert.ok((await blocks(join(dir, "full"))) >= 64 * 1024 * 1024, "--no-sparse: every block written");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("FIFOs and devices are backed up and listed; a socket is not skipped silently: named in a warning and counted in the summary", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-cli-"));
  const server = createServer();
  try {
    const src = join(dir, "src");
    await mkdir(src);
    await writeFile(join(src, "plain.txt"), "kept");
    execFileSync("mkfifo", [join(src, "pipe")]);
    await new Promise<void>((resolve) => server.listen(join(src, "sock"), resolve));
    const root = process.getuid?.() === 0;
    if (root) execFileSync("mknod", [join(src, "null"), "c", "1", "3"]);
    const store = join(dir, "store");
    const json = await rtb(["backup", src, "--store", store, "--state", join(dir, "state"), "--json", "--no-progress"]);
    assert.is(json.code, 0, json.stderr);
    const summary = JSON.parse(json.stdout.trim().split("\n").at(-1)!);
    assert.is(summary.skipped, 1);
    assert.equal(summary.skippedByKind, { fifo: 0, socket: 1, "character device": 0, "block device": 0 });
    assert.match(json.stderr, `${join(src, "sock")} is a socket: not backed up`);
    const text = await rtb(["backup", src, "--store", join(dir, "store2"), "--state", join(dir, "state2"), "--no-progress"]);
    assert.match(text.stderr, "NOT BACKED UP: 1 special file (1 socket)");
    const list = await rtb(["list", src, "--store", store]);
    assert.match(list.stdout, new RegExp(`^p 0644 +0 .* ${join(src, "pipe")}$`, "m"));
    if (root) assert.match(list.stdout, new RegExp(`^c 0644 +0 .* ${join(src, "null")} \\(1:3\\)$`, "m"));
    const out = join(dir, "out");
    assert.is((await rtb(["restore", src, "--store", store, "--to", out, "--no-progress"])).code, 0);
    assert.ok(lstatSync(join(out, src, "pipe")).isFIFO());
    if (root) assert.is(lstatSync(join(out, src, "null")).rdev, lstatSync("/dev/null").rdev);
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("config check: a bad config exits 2 naming file, line and element; a good one exits 0", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-cli-"));
  try {
    const bad = join(dir, "bad.xml");
    await writeFile(
      bad,
      `<?xml version="1.0"?>\n<OperatingParameters>\n  <UploadThreadCount>-2</UploadThreadCount>\n  <SnapshotSharingWindow>PT5X</SnapshotSharingWindow>\n</OperatingParameters>\n`,
    );
    const r = await rtb(["config", "check", bad]);
    assert.is(r.code, 2);
    assert.match(r.stderr, /bad\.xml:3: <UploadThreadCount>/);
    assert.match(r.stderr, /bad\.xml:4: <SnapshotSharingWindow>/);
    const good = join(dir, "good.xml");
    await writeFile(
      good,
      `<?xml version="1.0"?>\n<OperatingParameters>\n  <RemoteStorageKeyID>0012345</RemoteStorageKeyID>\n  <RemoteStorageApplicationKey>K0secretsecret</RemoteStorageApplicationKey>\n  <RemoteStorageBucketID>d5aa</RemoteStorageBucketID>\n</OperatingParameters>\n`,
    );
    const ok = await rtb(["config", "check", good, "--print"]);
    assert.is(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /storage b2/);
    assert.not.ok(ok.stdout.includes("K0secretsecret"), "secrets are masked");
    // A bad config never half-starts the daemon.
    const run = await rtb(["run", "--config", bad], 15_000);
    assert.is(run.code, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("DQD.RealTimeBackup arguments are translated", () => {
  const t = (...a: string[]) => translateDqdArguments(["node", "rtb", ...a]).slice(2);
  assert.equal(t("/INITIALBACKUPTHENEXIT", "/CONFIG", "/etc/x.xml"), ["backup", "--config", "/etc/x.xml"]);
  assert.equal(t("/INITIALBACKUPTHENMONITOR"), ["run", "--initial-backup"]);
  assert.equal(t("/RESTOREDIRECTORY", "/home/a", "/RECURSIVE", "/RESTORETO", "/tmp/r"), ["restore", "/home/a", "--recursive", "--to", "/tmp/r"]);
  assert.equal(t("/LISTALLFILES", "/XML"), ["list", "--json"]);
  assert.equal(t("/CATFILE", "/etc/hosts"), ["cat", "/etc/hosts"]);
  assert.equal(t("restore", "/x"), ["restore", "/x"]);
});

test.run();
