// "Cannot read" is never "deleted": unreadable directories, unmounted roots and missing roots, through the real
// `rtb backup` (as an unprivileged user where permissions must apply, since root reads everything).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { access, chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RTB, rtb } from "./helpers/daemon.js";
import { isMountPoint, mountTmpfs, must } from "./helpers/e2e.js";

const NOBODY = 65534;

/** Runs `rtb` as the user nobody (setpriv), so that file permissions apply as they do for a normal user. */
function rtbAsNobody(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("setpriv", ["--reuid", String(NOBODY), "--regid", String(NOBODY), "--clear-groups", process.execPath, RTB, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, HOME: "/nonexistent", XDG_STATE_HOME: "" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

// Without ZFS in the preset: a ZFS pool another test mounted must not change what these tests see.
async function scratch(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "rtb-safety-"));
  await chmod(dir, 0o755);
  await writeFile(join(dir, "rtb.config.json"), JSON.stringify({ parameters: { monitorFileSystemTypes: ["tmpfs"] } }));
  return dir;
}

test("a directory that cannot be read is reported, exits 3, and its backed-up files are not recorded as deleted", async () => {
  const dir = await scratch();
  const secret = join(dir, "src", "secret");
  try {
    await mkdir(join(dir, "src", "secret", "deeper"), { recursive: true });
    await writeFile(join(dir, "src", "a.txt"), "a");
    await writeFile(join(secret, "x.txt"), "x");
    await writeFile(join(secret, "deeper", "y.txt"), "y");
    await must("chown", ["-R", `${NOBODY}:${NOBODY}`, dir]);
    const args = [
      "backup",
      join(dir, "src"),
      "--config",
      join(dir, "rtb.config.json"),
      "--store",
      join(dir, "store"),
      "--state",
      join(dir, "state"),
      "--no-progress",
    ];
    const first = await rtbAsNobody(args);
    assert.is(first.code, 0, first.stderr);
    await chmod(secret, 0o000);
    const second = await rtbAsNobody([...args, "--json"]);
    assert.is(second.code, 3, `exit 3 when a path cannot be read: ${second.stderr}`);
    const summary = JSON.parse(second.stdout.trim().split("\n").at(-1)!);
    assert.is(summary.deleted, 0, "nothing is recorded as deleted");
    assert.equal(
      summary.unreadablePaths.map((u: { path: string }) => u.path),
      [secret],
    );
    const text = await rtbAsNobody(args);
    assert.is(text.code, 3);
    assert.match(text.stderr, `UNREADABLE ${secret}: `);
    const list = await rtb(["list", "--store", join(dir, "store")]);
    assert.ok(list.stdout.includes(join(secret, "x.txt")) && list.stdout.includes(join(secret, "deeper", "y.txt")), list.stdout);
    // Readable again: the next run is clean, and a real deletion is still recorded.
    await chmod(secret, 0o755);
    await rm(join(secret, "x.txt"));
    const third = await rtbAsNobody([...args, "--json"]);
    assert.is(third.code, 0, third.stderr);
    assert.is(JSON.parse(third.stdout.trim().split("\n").at(-1)!).deleted, 1);
  } finally {
    await chmod(secret, 0o755).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
});

test("a root whose filesystem is no longer mounted is reported, exits 3, and deletes nothing", async () => {
  const dir = await scratch();
  const src = join(dir, "data");
  try {
    await mountTmpfs(src, 8);
    await writeFile(join(src, "one.txt"), "1");
    await mkdir(join(src, "sub"));
    await writeFile(join(src, "sub", "two.txt"), "2");
    const args = ["backup", src, "--config", join(dir, "rtb.config.json"), "--store", join(dir, "store"), "--state", join(dir, "state"), "--no-progress"];
    const first = await rtb(args);
    assert.is(first.code, 0, first.stderr);
    await must("umount", [src]);
    // The empty mount-point directory is left on the parent filesystem: walking it would "delete" everything.
    const second = await rtb(args);
    assert.is(second.code, 3, second.stderr);
    assert.match(second.stderr, /UNREADABLE .*data: not mounted: .* was on tmpfs \(tmpfs\)/);
    assert.match(second.stderr, /0 deleted/);
    const list = await rtb(["list", "--store", join(dir, "store")]);
    assert.ok(list.stdout.includes(join(src, "sub", "two.txt")), list.stdout);
  } finally {
    if (await isMountPoint(src)) await must("umount", [src]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
});

test("rtb backup of a directory that does not exist exits 2 naming it, and creates no store", async () => {
  const dir = await scratch();
  try {
    const store = join(dir, "store");
    const r = await rtb(["backup", join(dir, "no-such-dir"), "--store", store, "--state", join(dir, "state"), "--no-progress"]);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, `${join(dir, "no-such-dir")} does not exist`);
    assert.not.ok(
      await access(store).then(
        () => true,
        () => false,
      ),
      "no store was created",
    );
    // A config whose BackupRoots names a missing directory fails the same way.
    const config = join(dir, "rtb.config.json");
    await writeFile(
      config,
      JSON.stringify({
        parameters: { storage: "local", localStoragePath: store, remoteFileStateCachePath: join(dir, "state"), backupRoots: [join(dir, "gone")] },
      }),
    );
    const viaConfig = await rtb(["backup", "--config", config, "--no-progress"]);
    assert.is(viaConfig.code, 2, viaConfig.stderr);
    assert.match(viaConfig.stderr, `${join(dir, "gone")} does not exist`);
    assert.not.ok(
      await access(store).then(
        () => true,
        () => false,
      ),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
