// Names are bytes: `rtb backup`, `rtb list` (text and --json) and `rtb restore` with names that are not UTF-8.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rtb } from "./helpers/daemon.js";

const at = (dir: string, ...names: string[]) => Buffer.concat([Buffer.from(dir), ...names.flatMap((n) => [Buffer.from("/"), Buffer.from(n, "latin1")])]);

test("rtb backup, list and restore keep names that are not UTF-8 (bad\\xffname, Latin-1 lat\\xe9) byte for byte", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-names-"));
  try {
    const src = join(dir, "src");
    await mkdir(src);
    await writeFile(at(src, "bad\xffname"), "bad");
    await mkdir(at(src, "lat\xe9"));
    await writeFile(at(src, "lat\xe9", "caf\xe9.txt"), "latin-1");
    await writeFile(join(src, "good.txt"), "good");
    await symlink(Buffer.from("to-\xfe", "latin1"), at(src, "link"));
    const store = join(dir, "store");
    const backup = await rtb(["backup", src, "--store", store, "--state", join(dir, "state"), "--json", "--no-progress"]);
    assert.is(backup.code, 0, backup.stderr);
    const summary = JSON.parse(backup.stdout.trim().split("\n").at(-1)!);
    assert.is(summary.walked, 6, "the root, 3 files, a directory and a symlink");
    assert.is(summary.failed, 0);

    const list = await rtb(["list", "--store", store]);
    assert.is(list.code, 0, list.stderr);
    assert.ok(list.stdout.includes(`${src}/bad\\xffname`), list.stdout);
    assert.ok(list.stdout.includes(`${src}/lat\\xe9/caf\\xe9.txt`), list.stdout);
    assert.ok(list.stdout.includes(`${src}/link -> to-\\xfe`), list.stdout);
    assert.not.ok(list.stdout.includes("\ufffd"), "no byte is replaced by U+FFFD");

    const json = await rtb(["list", "--store", store, "--json"]);
    const entries = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const bad = entries.find((e) => e.path === `${src}/bad\udcffname`);
    assert.ok(bad, "the plain path field carries the byte as the escape \\udcff");
    assert.ok(Buffer.from(bad.pathBase64, "base64").equals(at(src, "bad\xffname")), "pathBase64 holds the exact bytes");
    const link = entries.find((e) => e.path === `${src}/link`);
    assert.ok(Buffer.from(link.targetBase64, "base64").equals(Buffer.from("to-\xfe", "latin1")));
    assert.is(entries.find((e) => e.path === `${src}/good.txt`).pathBase64, undefined, "UTF-8 names need no extra field");

    const out = join(dir, "out");
    const restore = await rtb(["restore", src, "-r", "--store", store, "--to", out]);
    assert.is(restore.code, 0, restore.stderr);
    const restored = Buffer.from(join(out, src.slice(1)));
    const names = (await readdir(restored, { encoding: "buffer" })).map((n) => n.toString("hex")).sort();
    assert.equal(names, ["bad\xffname", "good.txt", "lat\xe9", "link"].map((n) => Buffer.from(n, "latin1").toString("hex")).sort());
    assert.is((await readFile(at(restored.toString("latin1"), "lat\xe9", "caf\xe9.txt"))).toString(), "latin-1");
    assert.is((await readFile(at(restored.toString("latin1"), "bad\xffname"))).toString(), "bad");
    assert.ok((await readlink(at(restored.toString("latin1"), "link"), { encoding: "buffer" })).equals(Buffer.from("to-\xfe", "latin1")));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
