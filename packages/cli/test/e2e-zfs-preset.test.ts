// The default preset takes ZFS snapshots in only where the backup reads: with a zfs-fuse pool mounted and a `zfs`
// command that fails every call (as it does while the daemon is down), `rtb backup` of a directory on another
// filesystem never touches ZFS; of a dataset of that pool, it warns and reads the files live (the preset turned ZFS
// on by itself), while a ZfsSnapshotPlugin listed in the config stops the start instead.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { RTB } from "./helpers/daemon.js";
import { must, run, scratchDirectory, writeJsonConfig } from "./helpers/e2e.js";
import { createTestPool, ensureZfsFuse, releaseZfs, type TestPool, type ZfsFuse } from "./helpers/e2eZfs.js";

test("ZFS preset: a pool mounted elsewhere is not used; ZFS down is a warning for the preset, an error for an explicit plugin", async () => {
  const scratch = await scratchDirectory("rtb-e2e-zfspreset-");
  let z: ZfsFuse | undefined;
  let pool: TestPool | undefined;
  try {
    z = await ensureZfsFuse();
    pool = await createTestPool(z, 128);
    await must(z.zfs, ["create", `${pool.name}/data`]);
    const onZfs = join(pool.mountpoint, "data");
    await writeFile(join(onZfs, "on-zfs.txt"), "zfs");
    const elsewhere = join(scratch.dir, "home");
    await mkdir(elsewhere);
    await writeFile(join(elsewhere, "plain.txt"), "plain");
    const broken = join(scratch.dir, "zfs");
    await writeFile(broken, `#!/bin/sh\necho "connect: No such file or directory" >&2\nexit 1\n`);
    await chmod(broken, 0o755);
    const config = join(scratch.dir, "rtb.config.json");
    await writeJsonConfig(config, {
      storage: "local",
      localStoragePath: join(scratch.dir, "store"),
      remoteFileStateCachePath: join(scratch.dir, "state"),
      stagingDirectory: join(scratch.dir, "staging"),
      errorLogFilePath: join(scratch.dir, "error.log"),
      ipcPath: join(scratch.dir, "ipc"),
      monitorFileSystemTypes: ["zfs", "ext4", "tmpfs", "overlay", "xfs", "btrfs"],
      zfsBinaryPath: broken,
      pathFilters: { rules: [], replaceDefaults: true },
    });

    const plain = await run(process.execPath, [RTB, "backup", elsewhere, "--config", config, "--json", "--no-progress"]);
    assert.is(plain.code, 0, plain.stderr);
    assert.not.match(plain.stderr, /ZfsSnapshotPlugin/);
    const summary = JSON.parse(plain.stdout.trim().split("\n").at(-1)!) as { walked: number; failed: number };
    assert.is(summary.walked, 2, "the root and its file");
    assert.is(summary.failed, 0);

    const zfs = await run(process.execPath, [RTB, "backup", onZfs, "--config", config, "--json", "--no-progress"]);
    assert.is(zfs.code, 0, zfs.stderr);
    assert.match(zfs.stderr, /ZFS is not running .*; files on ZFS are read live, without snapshots/, "said loudly");
    const list = await run(process.execPath, [RTB, "list", "--store", join(scratch.dir, "store")]);
    assert.match(list.stdout, /on-zfs\.txt/);

    // Listed in the config, the plugin is asked for: it stops the start rather than read a dataset live.
    const explicit = join(scratch.dir, "explicit.config.json");
    const parameters = JSON.parse(await readFile(config, "utf8")).parameters;
    await writeFile(explicit, JSON.stringify({ parameters, plugins: [{ module: "@rtbackup/plugin-zfs", export: "ZfsSnapshotPlugin" }] }));
    const refused = await run(process.execPath, [RTB, "backup", onZfs, "--config", explicit, "--json", "--no-progress"]);
    assert.is.not(refused.code, 0, "an explicit ZfsSnapshotPlugin never reads a dataset live");
    assert.match(refused.stderr, /ZfsSnapshotPlugin failed in hook "initialize": .*ZFS is not running/);
  } finally {
    await releaseZfs(pool, z, scratch.remove);
  }
});

test.run();
