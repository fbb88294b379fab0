// A FUSE mount whose daemon has stopped answering (a wedged zfs-fuse here; a dead NFS server does the same) must not
// hold the writer checks: a process has a file open on it, and a stat of that descriptor, or of the mount point,
// would block until the daemon answers. The checks run in a child process, so a check that blocks fails the test
// within its time limit instead of hanging it.
import { execFile } from "node:child_process";
import { readFileSync, readlinkSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mountOf, parseMountInfo } from "@rtbackup/core";
import { canHang, deviceNumber, LsofWriterCheck } from "@rtbackup/plugin-open-files";
import { createTestPool, ensureZfsFuse, releaseZfs, runningDaemon, sh, type TestPool, type ZfsFuse } from "../../plugin-zfs/test/helpers/zfsFuse.js";
import { Holder } from "./helpers/Holder.js";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");

const CHECKS = `
import { LsofWriterCheck, ProcfsWriterCheck } from "@rtbackup/plugin-open-files";
const file = process.argv[1];
const procfs = new ProcfsWriterCheck();
const lsof = new LsofWriterCheck({ timeoutMs: 20000 });
const out = {};
let t = Date.now();
const which = process.argv[2].split(" ");
out.procfs = { writers: [...(await procfs.writers([file]))], avoided: procfs.lastScan.avoided, ms: Date.now() - t };
t = Date.now();
if (which.includes("lsof")) out.lsof = { writers: [...(await lsof.writers([file]))], ms: Date.now() - t };
process.stdout.write(JSON.stringify(out));
`;

/** Runs the checks `which` names ("procfs lsof", or "procfs") on `file` in a child process, killed after `timeoutMs`. */
function checksInChild(
  file: string,
  timeoutMs: number,
  which: string,
): Promise<{ procfs: { writers: string[]; avoided: number }; lsof?: { writers: string[] } }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--input-type=module", "-e", CHECKS, file, which],
      { cwd: packageDir, timeout: timeoutMs, killSignal: "SIGKILL" },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`the checks did not finish within ${timeoutMs} ms or failed: ${err.message} ${stderr}`));
        else resolve(JSON.parse(stdout));
      },
    );
  });
}

test("the device number of a mount table entry is the one stat gives", () => {
  const mounts = parseMountInfo(readFileSync("/proc/self/mountinfo", "utf8"));
  const proc = mountOf(mounts, "/proc")!;
  assert.is(deviceNumber(proc.major, proc.minor), statSync("/proc", { bigint: true }).dev);
  // Python's os.makedev(259, 1048577) and os.makedev(4097, 3): minor and major numbers past the old 8 and 12 bits.
  assert.is(deviceNumber(259, 1048577), 4295033601n);
  assert.is(deviceNumber(4097, 3), 17592186044675n);
  assert.ok(canHang("fuse.zfs") && canHang("nfs4") && canHang("fuse.sshfs") && !canHang("ext4") && !canHang("zfs"));
});

/** A zfs-fuse pool, a private temp directory and a process to hold files open, for `body`; all undone afterwards. */
async function withPool(body: (pool: TestPool, local: string, holder: Holder) => Promise<void>, options: { namespace?: boolean } = {}): Promise<void> {
  let z: ZfsFuse | undefined;
  let pool: TestPool | undefined;
  let holder: Holder | undefined;
  const local = await mkdtemp(join(tmpdir(), "rtb-hung-"));
  try {
    z = await ensureZfsFuse();
    pool = await createTestPool(z, 64);
    holder = await Holder.start(undefined, options);
    await body(pool, local, holder);
  } finally {
    await holder?.stop();
    await releaseZfs(pool, z, () => rm(local, { recursive: true, force: true }));
  }
}

/** The holder holds a local file and one on the pool for writing; the daemon is stopped; both checks run. */
async function checksWithWedgedMount(pool: TestPool, local: string, holder: Holder, which: string) {
  const remote = join(pool.mountpoint, "remote.txt");
  const file = join(local, "local.txt");
  await writeFile(remote, "on the FUSE mount");
  await writeFile(file, "on the temp directory's filesystem");
  await holder.open(file, "a", 3);
  await holder.open(remote, "a", 4);
  const stopped = runningDaemon();
  assert.ok(stopped !== undefined, "the zfs-fuse daemon runs");
  process.kill(stopped, "SIGSTOP");
  try {
    // The mount is wedged once a stat of the open file no longer returns (cached attributes may answer at first).
    let wedged = false;
    for (let i = 0; i < 8 && !wedged; i++) wedged = (await sh("stat", [remote], undefined, 1_500)).code === 124;
    assert.ok(wedged, "a stat on the mount of the stopped daemon blocks");
    return { file, result: await checksInChild(file, 25_000, which) };
  } finally {
    process.kill(stopped, "SIGCONT");
  }
}

test("a file open on a wedged FUSE mount does not hold the procfs or the lsof check", () =>
  withPool(async (pool, local, holder) => {
    const { file, result } = await checksWithWedgedMount(pool, local, holder, "procfs lsof");
    assert.equal(result.procfs.writers, [file], "procfs finds the writer of the local file");
    assert.ok(result.procfs.avoided >= 1, `the descriptor on the wedged mount was left alone (${result.procfs.avoided})`);
    assert.equal(result.lsof?.writers, [file], "lsof finds it too");
  }));

test("a process in another mount namespace with a file open on the wedged mount does not hold the procfs check", () =>
  withPool(
    async (pool, local, holder) => {
      const own = readlinkSync("/proc/self/ns/mnt");
      assert.is.not(readlinkSync(`/proc/${holder.pid}/ns/mnt`), own, "the holder runs in a mount namespace of its own");
      const { file, result } = await checksWithWedgedMount(pool, local, holder, "procfs");
      assert.equal(result.procfs.writers, [file], "procfs finds the writer of the local file");
      assert.ok(result.procfs.avoided >= 1, `the descriptor on the wedged mount was left alone (${result.procfs.avoided})`);
    },
    { namespace: true },
  ));

test("a mount exempted with -e that is gone when lsof runs is dropped, and lsof runs again", () =>
  withPool(async (pool, local, holder) => {
    const file = join(local, "local.txt");
    await writeFile(file, "held for writing");
    await holder.open(file, "w", 3);
    // An lsof that, the first time it is asked to exempt the pool, answers as lsof does for a mount just released.
    const log = join(local, "lsof.log");
    const wrapper = join(local, "lsof");
    await writeFile(
      wrapper,
      `#!/bin/sh
echo "$*" >> '${log}'
if [ ! -e '${log}.once' ]; then
  prev=
  for a in "$@"; do
    if [ "$prev" = "-e" ] && [ "$a" = '${pool.mountpoint}' ]; then touch '${log}.once'; printf 'lsof: "-e %s" is not a mounted file system.\\n' "$a" >&2; exit 1; fi
    prev="$a"
  done
fi
exec /usr/bin/lsof "$@"
`,
      { mode: 0o755 },
    );
    const check = new LsofWriterCheck({ lsofBinaryPath: wrapper });
    assert.equal([...(await check.writers([file]))], [file]);
    const runs = readFileSync(log, "utf8").trim().split("\n");
    assert.is(runs.length, 2, runs.join("\n"));
    assert.ok(runs[0]!.includes(`-e ${pool.mountpoint} `), "the pool's mount, holding no candidate, was exempted");
    assert.not.ok(runs[1]!.includes(`-e ${pool.mountpoint} `), "and left out once lsof said it was gone");
  }));

test.run();
