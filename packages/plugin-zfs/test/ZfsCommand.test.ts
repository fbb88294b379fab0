import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ZfsCommand, ZfsError, spawnExec } from "@rtbackup/plugin-zfs";

async function failure(promise: Promise<unknown>): Promise<ZfsError> {
  const err = await promise.then(
    () => assert.unreachable("should fail"),
    (e: unknown) => e,
  );
  assert.instance(err, ZfsError);
  return err as ZfsError;
}

test("spawnExec collects stdout, stderr and the exit status, without a shell", async () => {
  const r = await spawnExec("/bin/sh", ["-c", 'printf "a\\tb\\n"; echo oops >&2; exit 3', "ignored $(x)"], { timeoutMs: 5000 });
  assert.equal(r, { exitCode: 3, stdout: "a\tb\n", stderr: "oops\n" });
});

test("a command running past the timeout is killed and fails with reason timeout", async () => {
  const started = Date.now();
  const err = await failure(new ZfsCommand("/bin/sleep", spawnExec, 100).run(["5"]));
  assert.is(err.reason, "timeout");
  assert.is(err.code, "SNAPSHOT_FAILED");
  assert.ok(Date.now() - started < 4000);
});

test("a failure names the quoted command line, exit status and stderr", async () => {
  const zfs = new ZfsCommand("/bin/sh", spawnExec, 5000);
  const err = await failure(zfs.run(["-c", "echo \"cannot destroy 'p/a b': dataset is busy\" >&2; exit 1", "x y"]));
  assert.is(err.reason, "busy");
  assert.is(err.exitCode, 1);
  assert.is(err.stderr, "cannot destroy 'p/a b': dataset is busy");
  assert.is(err.command, `/bin/sh -c 'echo "cannot destroy '\\''p/a b'\\'': dataset is busy" >&2; exit 1' 'x y'`);
  assert.match(err.message, /stderr: cannot destroy/);
});

test("a binary that is not there is missing-binary; one that is not executable is permission-denied", async () => {
  const missing = await failure(new ZfsCommand("/nonexistent/zfs", spawnExec, 5000).run(["list"]));
  assert.is(missing.reason, "missing-binary");
  assert.match(missing.message, /install OpenZFS's zfsutils-linux or zfs-fuse, or set ZFSBinaryPath/);
  const dir = await mkdtemp(join(tmpdir(), "rtb-zfs-cmd-"));
  try {
    const notExecutable = join(dir, "zfs");
    await writeFile(notExecutable, "#!/bin/sh\n", { mode: 0o644 });
    const denied = await failure(new ZfsCommand(notExecutable, spawnExec, 5000).run(["list"]));
    assert.is(denied.reason, "permission-denied");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
