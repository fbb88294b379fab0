// A restore without privileges restores what it may and names what it could not. The restore runs as a process
// with no capabilities at all (setpriv: an empty bounding set, so uid 0 keeps only what any owner may do): it may set
// user.* attributes and ACLs on its own files and make FIFOs, but not trusted.* attributes (CAP_SYS_ADMIN), a file
// capability (CAP_SETFCAP) or a device node (CAP_MKNOD). Each of those is reported; everything else is restored.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync, spawnSync } from "node:child_process";
import { lstatSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RTB, rtb } from "./helpers/daemon.js";

const isRoot = process.getuid?.() === 0;
const getfattr = (path: string) =>
  execFileSync("getfattr", ["-d", "-m", "-", "--absolute-names", path])
    .toString()
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.split("=")[0]);

test("without capabilities: user.* and ACLs are set, FIFOs made; trusted.*, a capability and a device are reported", async () => {
  if (!isRoot) {
    console.log("  (skipped: needs root to build the tree with trusted.* attributes, a capability and a device)");
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), "rtb-unpriv-"));
  try {
    const src = join(dir, "src");
    await mkdir(join(src, "shared"), { recursive: true });
    const tool = join(src, "tool");
    await writeFile(tool, await readFile("/bin/true"), { mode: 0o755 });
    execFileSync("setfattr", ["-n", "user.note", "-v", "kept", tool]);
    execFileSync("setfattr", ["-n", "trusted.t", "-v", "1", tool]);
    execFileSync("setfacl", ["-m", "u:nobody:r", tool]);
    execFileSync("setcap", ["cap_net_raw+ep", tool]);
    execFileSync("setfacl", ["-d", "-m", "u:nobody:rx", join(src, "shared")]);
    execFileSync("mkfifo", [join(src, "pipe")]);
    execFileSync("mknod", [join(src, "null"), "c", "1", "3"]);
    const store = join(dir, "store");
    const backup = await rtb(["backup", src, "--store", store, "--state", join(dir, "state"), "--no-progress"]);
    assert.is(backup.code, 0, backup.stderr);

    const out = join(dir, "out");
    const drop = ["--nnp", "--inh-caps=-all", "--bounding-set=-all"];
    const r = spawnSync("setpriv", [...drop, process.execPath, RTB, "restore", "/", "-r", "--store", store, "--to", out, "--json", "--no-progress"], {
      encoding: "utf8",
    });
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { event: string; path?: string; error?: string; restored?: number; errors?: number; incomplete?: number });
    const of = (event: string) => events.filter((e) => e.event === event);
    assert.is(r.status, 1, `exit 1: the device failed (stderr: ${r.stderr})`);
    assert.equal(
      of("error").map((e) => [e.path, e.error?.replace(/ \(.*/, "")]),
      [[join(src, "null"), `${join(out, src, "null")}: cannot make the character device 1:3: only root may`]],
    );
    const incomplete = of("incomplete");
    assert.equal(
      incomplete.map((e) => e.path),
      [tool],
    );
    assert.match(incomplete[0]!.error!, /security\.capability: EPERM/);
    assert.match(incomplete[0]!.error!, /trusted\.t: EPERM/);
    const back = join(out, src);
    assert.equal(getfattr(join(back, "tool")).sort(), ["system.posix_acl_access", "user.note"]);
    assert.equal(getfattr(join(back, "shared")), ["system.posix_acl_default"]);
    assert.ok(lstatSync(join(back, "pipe")).isFIFO());
    assert.is(lstatSync(join(back, "tool")).mode & 0o777, 0o755);
    const summary = of("summary")[0]!;
    assert.equal([summary.errors, summary.incomplete], [1, 1]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
