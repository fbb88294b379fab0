import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync, spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { RTB, snapshotTree } from "./helpers/daemon.js";

/**
 * Runs rtb with `env` added, in a session of its own (setsid): no controlling terminal, so a missing passphrase is
 * an error and never a prompt that waits.
 */
function rtbEnv(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("RTB_PASSPHRASE") && k !== "RTB_NEW_PASSPHRASE"));
    const child = spawn(process.execPath, [RTB, ...args], { stdio: ["ignore", "pipe", "pipe"], detached: true, env: { ...clean, ...env } });
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function ok(args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await rtbEnv(args, env);
  assert.is(r.code, 0, `rtb ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

async function secretFile(path: string, text: string): Promise<string> {
  await writeFile(path, text, { mode: 0o600 });
  return path;
}

async function files(root: string, under: string): Promise<string[]> {
  return (await readdir(join(root, under), { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

test("rtb init --encryption, backup, list, cat and restore with a passphrase; age decrypts the objects", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-enc-cli-"));
  try {
    const src = join(dir, "src");
    await mkdir(join(src, "sub"), { recursive: true });
    await writeFile(join(src, "letter.txt"), "dear diary\n");
    await writeFile(join(src, "sub", "data.bin"), Buffer.alloc(200_000, 7));
    const pass = await secretFile(join(dir, "pass"), "a long passphrase\n");
    const store = join(dir, "store");
    const common = ["--store", store, "--state", join(dir, "state")];
    const init = await ok(["init", "--encryption", "--store", store, "--passphrase-file", pass]);
    assert.match(init, /^created encrypted repository [0-9a-f]{32} at local:.*: key [0-9a-f]{16} opens with the passphrase\n$/);
    const again = await rtbEnv(["init", "--encryption", "--store", store, "--passphrase-file", pass]);
    assert.is(again.code, 1);
    assert.match(again.stderr, /there is a repository at local:.* already/);

    await ok(["backup", src, ...common, "--no-progress", "--quiet"], { RTB_PASSPHRASE_FILE: pass });
    assert.match(await ok(["list", "-r", "--store", store], { RTB_PASSPHRASE: "a long passphrase" }), /letter\.txt/);
    assert.is(await ok(["cat", join(src, "letter.txt"), "--store", store, "--passphrase-file", pass]), "dear diary\n");
    await ok(["restore", "/", "-r", "--to", join(dir, "out"), "--store", store, "--passphrase-file", pass, "--quiet"]);
    assert.equal(await snapshotTree(join(dir, "out", src.slice(1))), await snapshotTree(src));

    const none = await rtbEnv(["list", "--store", store]);
    assert.is(none.code, 6, none.stderr);
    assert.match(none.stderr, /a passphrase is needed and there is no terminal to ask on/);
    const wrong = await rtbEnv(["list", "--store", store], { RTB_PASSPHRASE: "not it" });
    assert.is(wrong.code, 6);
    assert.match(wrong.stderr, /the passphrase opens none of the 1 key object/);

    // The age command, given the identity from rtb key export, reads a pack and a batch; given the passphrase, a key object.
    await ok(["key", "export", "--store", store, "--passphrase-file", pass, "--out", join(dir, "master.key")]);
    const master = JSON.parse(await readFile(join(dir, "master.key"), "utf8"));
    assert.is((await import("node:fs")).statSync(join(dir, "master.key")).mode & 0o777, 0o600);
    const identity = await secretFile(join(dir, "identity.txt"), `${master.identity}\n`);
    const pack = (await files(store, "packs"))[0]!;
    assert.is(execFileSync("age", ["-d", "-i", identity, pack]).subarray(0, 8).toString(), "RTBPACK2");
    const batch = (await files(store, "lanes")).find((f) => f.includes("/batch/"))!;
    const header = JSON.parse(
      gunzipSync(execFileSync("age", ["-d", "-i", identity, batch]))
        .toString()
        .split("\n")[0]!,
    );
    assert.is(header.kind, "batch");
    const keyObject = (await files(store, "keys"))[0]!;
    const opened = execFileSync("script", ["-qec", `age -d ${keyObject}`, "/dev/null"], { input: "a long passphrase\n" }).toString();
    assert.match(opened, /"format": "rtb-repository-key"/);
    assert.match(opened, new RegExp(master.identity));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("rtb key add, passwd, remove and export --writer: the data stays readable, a writer key backs up and reads nothing", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-enc-keys-"));
  try {
    const src = join(dir, "src");
    await mkdir(src);
    await writeFile(join(src, "one.txt"), "one\n");
    const store = join(dir, "store");
    const p1 = await secretFile(join(dir, "p1"), "first passphrase\n");
    const p2 = await secretFile(join(dir, "p2"), "second passphrase\n");
    const p3 = await secretFile(join(dir, "p3"), "third passphrase\n");
    await ok(["init", "--encryption", "--store", store], { RTB_PASSPHRASE_FILE: p1 });
    await ok(["backup", src, "--store", store, "--state", join(dir, "state"), "--passphrase-file", p1, "--quiet", "--no-progress"]);
    assert.match(await ok(["key", "add", "--store", store, "--passphrase-file", p1, "--new-passphrase-file", p2]), /^added key [0-9a-f]{16}\n$/);
    const listed = (await ok(["key", "list", "--json", "--store", store, "--passphrase-file", p2]))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.is(listed.length, 2);
    assert.equal(
      listed.map((k) => k.opensWith),
      ["passphrase", "passphrase"],
    );
    const first = listed.find((k) => !k.current).id;
    // passwd: the key p2 opened is replaced by one for p3.
    assert.match(
      await ok(["key", "passwd", "--store", store, "--passphrase-file", p2, "--new-passphrase-file", p3]),
      /^added key [0-9a-f]{16}, removed key [0-9a-f]{16}\n$/,
    );
    const byP2 = await rtbEnv(["list", "--store", store, "--passphrase-file", p2]);
    assert.is(byP2.code, 6, "the old passphrase no longer opens it");
    assert.match(await ok(["list", "-r", "--store", store, "--passphrase-file", p3]), /one\.txt/);
    const self = await rtbEnv(["key", "remove", first, "--store", store, "--passphrase-file", p1]);
    assert.match(self.stderr, /is the one this command opened the repository with/);
    assert.match(await ok(["key", "remove", first, "--store", store, "--passphrase-file", p3]), new RegExp(`removed key ${first}`));
    const last = (await ok(["key", "list", "--json", "--store", store, "--passphrase-file", p3])).trim();
    assert.is(last.split("\n").length, 1);

    await ok(["key", "export", "--writer", "--out", join(dir, "writer.key"), "--store", store, "--passphrase-file", p3]);
    const exists = await rtbEnv(["key", "export", "--writer", "--out", join(dir, "writer.key"), "--store", store, "--passphrase-file", p3]);
    assert.match(exists.stderr, /EEXIST/, "export never overwrites a file");
    await writeFile(join(src, "two.txt"), "two\n");
    await ok(["backup", src, "--store", store, "--state", join(dir, "writer-state"), "--key-file", join(dir, "writer.key"), "--quiet", "--no-progress"]);
    const denied = await rtbEnv(["list", "--store", store, "--key-file", join(dir, "writer.key")]);
    assert.is(denied.code, 6);
    assert.match(denied.stderr, /holds a writer key only: reading it needs the repository's master key/);
    const add = await rtbEnv(["key", "add", "--store", store, "--key-file", join(dir, "writer.key"), "--new-passphrase-file", p1]);
    assert.match(add.stderr, /needs the master key .* not a writer key/);
    assert.match(await ok(["list", "-r", "--store", store, "--passphrase-file", p3]), /two\.txt/);

    // A key file others may read is refused, naming it and its mode.
    await chmod(join(dir, "writer.key"), 0o644);
    const open = await rtbEnv(["backup", src, "--store", store, "--state", join(dir, "writer-state"), "--key-file", join(dir, "writer.key"), "--quiet"]);
    assert.is(open.code, 2);
    assert.match(open.stderr, /writer\.key may be read by other users \(mode 644\): chmod 600 it/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("rtb config check --print shows where the keys are and never a key or a passphrase", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-enc-config-"));
  try {
    const pass = await secretFile(join(dir, "pass"), "passphrase-never-printed\n");
    const keyFile = await secretFile(join(dir, "writer.key"), '{"secret":"c2VjcmV0LWtleS1tYXRlcmlhbC1uZXZlci1wcmludGVk"}\n');
    const xml = join(dir, "config.xml");
    await writeFile(
      xml,
      `<?xml version="1.0"?>\n<OperatingParameters>\n  <EncryptionKeyFile>${keyFile}</EncryptionKeyFile>\n  <EncryptionPassphraseFile>${pass}</EncryptionPassphraseFile>\n</OperatingParameters>\n`,
    );
    const r = await rtbEnv(["config", "check", xml, "--print"], { RTB_PASSPHRASE: "env-passphrase-never-printed" });
    assert.is(r.code, 0, r.stderr);
    const out = r.stdout + r.stderr;
    assert.match(out, new RegExp(`${keyFile}`));
    for (const secret of ["passphrase-never-printed", "c2VjcmV0LWtleS1tYXRlcmlhbC1uZXZlci1wcmludGVk", "env-passphrase-never-printed"]) {
      assert.not.ok(out.includes(secret), `printed: ${secret}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
