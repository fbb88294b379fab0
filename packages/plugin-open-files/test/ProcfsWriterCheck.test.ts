import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError, NativeError } from "@rtbackup/core";
import { ProcfsWriterCheck } from "@rtbackup/plugin-open-files";
import { Holder } from "./helpers/Holder.js";

const test = suite("ProcfsWriterCheck: procfs details");
const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
let dir = "";

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), "rtb-procfs-"));
});
test.after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A fake procfs tree: fd entries are symlinks to real files (stat follows them, as it follows /proc's links). */
function fakeProc(root: string, entries: Record<string, { fd?: Record<string, string>; fdinfo?: Record<string, string> }>) {
  mkdirSync(root, { recursive: true });
  for (const [pid, { fd, fdinfo }] of Object.entries(entries)) {
    mkdirSync(join(root, pid));
    if (fd) {
      mkdirSync(join(root, pid, "fd"));
      for (const [n, target] of Object.entries(fd)) symlinkSync(target, join(root, pid, "fd", n));
    }
    if (fdinfo) {
      mkdirSync(join(root, pid, "fdinfo"));
      for (const [n, text] of Object.entries(fdinfo)) writeFileSync(join(root, pid, "fdinfo", n), text);
    }
  }
}

test("flags decide; vanished processes and descriptors are skipped and counted", async () => {
  const files = ["wo", "ro", "rw", "gone-fdinfo", "no-flags", "append"].map((n) => {
    const p = join(dir, n);
    writeFileSync(p, n);
    return p;
  });
  const [wo, ro, rw, goneInfo, noFlags, append] = files as [string, string, string, string, string, string];
  const root = join(dir, "proc1");
  fakeProc(root, {
    "100": { fd: { "3": wo, "4": ro, "5": "/dev/null" }, fdinfo: { "3": "pos:\t0\nflags:\t0100001\nmnt_id:\t5\n", "4": "pos:\t0\nflags:\t0100000\n" } },
    "101": { fd: { "7": rw }, fdinfo: { "7": "pos:\t0\nflags:\t02\n" } },
    "102": {},
    "103": { fd: { "4": join(dir, "was-closed") } },
    "104": { fd: { "3": goneInfo } },
    "105": { fd: { "3": noFlags }, fdinfo: { "3": "pos:\t0\n" } },
    "106": { fd: { "9": append }, fdinfo: { "9": "pos:\t12\nflags:\t0102001\n" } },
    self: {},
    net: {},
  });
  const check = new ProcfsWriterCheck({ procRoot: root });
  const writers = await check.writers(files);
  assert.equal([...writers].sort(), [wo, rw, noFlags, append].sort());
  const scan = check.lastScan;
  assert.is(scan.processes, 6, "every pid with an fd directory was listed; self and net are not pids");
  assert.is(scan.vanished, 3, "102 without fd dir, 103's dangling descriptor, 104's missing fdinfo");
  assert.is(scan.unknownFlags, 1, "no flags line counts as a writer, to be safe");
  assert.is(scan.matchedFds, 6);
  assert.is(check.stats.scans, 1);
});

test("an fdinfo inode that disagrees is settled by a second stat (overlayfs may number inodes differently)", async () => {
  const f = join(dir, "ino-mismatch");
  writeFileSync(f, "x");
  const root = join(dir, "proc2");
  fakeProc(root, { "200": { fd: { "3": f }, fdinfo: { "3": "pos:\t0\nflags:\t01\nino:\t1\n" } } });
  const check = new ProcfsWriterCheck({ procRoot: root });
  assert.equal([...(await check.writers([f]))], [f]);
  assert.is(check.lastScan.raced, 0);
});

test("the scan stops early once every candidate has a writer", async () => {
  const f = join(dir, "early");
  writeFileSync(f, "x");
  const root = join(dir, "proc3");
  const info = { "3": "flags:\t01\n" };
  fakeProc(root, { "1": { fd: { "3": f }, fdinfo: info }, "2": { fd: { "3": f }, fdinfo: info }, "3": { fd: { "3": f }, fdinfo: info } });
  const check = new ProcfsWriterCheck({ procRoot: root });
  assert.equal([...(await check.writers([f]))], [f]);
  assert.is(check.lastScan.processes, 1);
});

test("a procRoot that cannot be listed is a NativeError naming it", async () => {
  const f = join(dir, "any");
  writeFileSync(f, "x");
  const check = new ProcfsWriterCheck({ procRoot: join(dir, "no-proc-here") });
  try {
    await check.writers([f]);
    assert.unreachable("should have thrown");
  } catch (err) {
    assert.instance(err, NativeError);
    assert.match((err as Error).message, "no-proc-here");
  }
});

test("the real /proc: scanned processes and descriptors are counted", async () => {
  const f = join(dir, "real");
  writeFileSync(f, "x");
  const check = new ProcfsWriterCheck();
  await check.writers([f]);
  assert.ok(check.lastScan.processes > 1, `${check.lastScan.processes} processes`);
  assert.ok(check.lastScan.fds > 3, `${check.lastScan.fds} descriptors`);
});

test("without root: other users' processes are denied and counted, one's own are seen", async () => {
  if (process.getuid?.() !== 0) {
    console.log("  SKIPPED non-root case: needs root to run a check as another user");
    return;
  }
  const shared = join(dir, "shared");
  mkdirSync(shared);
  chmodSync(dir, 0o755);
  chmodSync(shared, 0o777);
  const byRoot = join(shared, "root-writes");
  const byNobody = join(shared, "nobody-writes");
  writeFileSync(byRoot, "");
  writeFileSync(byNobody, "");
  chmodSync(byNobody, 0o666);
  const rootHolder = await Holder.start();
  const nobodyHolder = await Holder.start({ uid: 65534, gid: 65534 });
  try {
    await rootHolder.open(byRoot, "w");
    await nobodyHolder.open(byNobody, "w");
    const script = `
      import { ProcfsWriterCheck } from "@rtbackup/plugin-open-files";
      const check = new ProcfsWriterCheck();
      const writers = await check.writers(${JSON.stringify([byRoot, byNobody])});
      process.stdout.write(JSON.stringify({ writers: [...writers], denied: check.lastScan.denied }));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
      cwd: packageDir,
      uid: 65534,
      gid: 65534,
      timeout: 30_000,
    });
    const result = JSON.parse(stdout) as { writers: string[]; denied: number };
    assert.equal(result.writers, [byNobody], "nobody sees its own writer, not root's");
    assert.ok(result.denied >= 1, `denied ${result.denied}`);
  } finally {
    await rootHolder.stop();
    await nobodyHolder.stop();
  }
});

test("bad options are ConfigErrors naming the option", () => {
  assert.throws(
    () => new ProcfsWriterCheck({ procRoot: "proc" }),
    (e: unknown) => e instanceof ConfigError && /procRoot: expected an absolute path/.test((e as Error).message),
  );
  assert.throws(
    () => new ProcfsWriterCheck({ sliceMs: 0 }),
    (e: unknown) => e instanceof ConfigError && /sliceMs/.test((e as Error).message),
  );
  assert.throws(
    () => new ProcfsWriterCheck("fast" as never),
    (e: unknown) => e instanceof ConfigError && /expected an object/.test((e as Error).message),
  );
});

test.run();
