// End to end, issue 5: the real daemon (`rtb run`, default preset → ZfsSnapshotPlugin since ZFS is monitored, the
// zfs command exists and a fuse.zfs filesystem is mounted; FanotifySourcePlugin in fd mode, since FUSE reports no
// file handles) backs up a zfs-fuse dataset with a nested dataset into a local store on another dataset of the pool,
// reading every file through the batch's snapshot (a read-only clone: zfs-fuse has no .zfs directory).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  buildMaterial,
  filesOnly,
  killDaemons,
  must,
  scratchDirectory,
  shell,
  startDaemon,
  stopDaemon,
  waitForRestore,
  writeJsonConfig,
} from "./helpers/e2e.js";
import { createTestPool, ensureZfsFuse, releaseZfs, type TestPool, type ZfsFuse } from "./helpers/e2eZfs.js";

test("ZFS daemon: writes on zfs-fuse datasets are read from snapshots, renames and deletes caught up at restart; restore equals the tree", async () => {
  const scratch = await scratchDirectory("rtb-e2e-zfsrun-");
  let z: ZfsFuse | undefined;
  let pool: TestPool | undefined;
  try {
    const { tree, archive } = await buildMaterial(join(scratch.dir, "material"));
    z = await ensureZfsFuse();
    pool = await createTestPool(z, 192);
    const data = join(pool.mountpoint, "data");
    const nested = join(data, "nested");
    for (const ds of ["data", "data/nested", "store"]) await must(z.zfs, ["create", `${pool.name}/${ds}`]);
    // The real zfs behind a wrapper that records every command, to see the snapshots being made and released.
    const zfsLog = join(scratch.dir, "zfs.log");
    const wrapper = join(scratch.dir, "zfs");
    await writeFile(wrapper, `#!/bin/sh\necho "$*" >> '${zfsLog}'\nexec '${z.zfs}' "$@"\n`);
    await chmod(wrapper, 0o755);
    const store = join(pool.mountpoint, "store", "repo");
    const config = join(scratch.dir, "rtb.config.json");
    await writeJsonConfig(config, {
      storage: "local",
      localStoragePath: store,
      remoteFileStateCachePath: join(scratch.dir, "state"),
      stagingDirectory: join(scratch.dir, "staging"),
      errorLogFilePath: join(scratch.dir, "error.log"),
      ipcPath: join(scratch.dir, "ipc"),
      backupRoots: [data],
      monitorFileSystemTypes: ["zfs"],
      zfsBinaryPath: wrapper,
      enableFileAccessNotify: true,
      snapshotSharingWindow: "PT0.1S",
      batchUploadConsolidationDelay: "PT0.1S",
      openFileHandlePollingInterval: "PT0.2S",
      // No periodic rescan during the test: writes must come from fanotify, the rest from the restart below.
      periodicRescanInterval: "PT1H",
      pathFilters: { rules: [], replaceDefaults: true },
    });

    let daemon = await startDaemon(config);
    const log = daemon.log();
    assert.match(log, `watching ${data} (fuse.zfs, fd mode)`);
    assert.match(log, `watching ${nested} (fuse.zfs, fd mode)`);
    assert.match(log, `dataset ${pool.name}/data at ${data} (fuse.zfs): read through a read-only clone`);
    const wait = { store, root: data, scratch: scratch.dir, daemon, timeoutMs: 40_000 };

    // Phase 1, writes only: fd mode reports modify and close-write, so new and changed files are all it can be held
    // to (directories, symlinks, modes of untouched files, renames and deletes are not events there).
    await shell(
      `cp -r '${tree}' tree
       mkdir -p nested/x && cp tree/big.bin nested/x/big-copy.bin
       sed -i 's/foo/bar/g' tree/docs/readme.txt
       printf 'appended' >> tree/conf
       mkdir extracted && tar -xf '${archive}' -C extracted`,
      data,
    );
    await waitForRestore({ ...wait, view: filesOnly });
    const commands = await readFile(zfsLog, "utf8");
    assert.match(commands, new RegExp(`^snapshot ${pool.name}/data@rtb-`, "m"), "a snapshot of the dataset per batch");
    assert.match(commands, new RegExp(`^snapshot ${pool.name}/data/nested@rtb-`, "m"), "and of the nested dataset");
    assert.match(commands, new RegExp(`^clone .*${pool.name}/data@rtb-`, "m"), "read through a clone");
    assert.match(commands, /^destroy /m, "released after the batch");

    // Phase 2: renames, deletes, symlinks, a chmod, while the daemon runs (fd mode does not report them) and while it
    // is down. They are caught up by the start-up rescan of the restarted daemon, not by periodic rescans.
    await shell(
      `mv tree/deep tree/deeper
       mv tree/docs/notes.md tree/notes-moved.md
       rm -r tree/secret
       ln -s ../conf tree/docs/conf-link`,
      data,
    );
    assert.is(await stopDaemon(daemon), 0, "SIGTERM drains and exits 0");
    await shell(
      `chmod 600 tree/bin/run.sh
       rm nested/x/big-copy.bin
       mv extracted/etc extracted/etc-moved`,
      data,
    );
    daemon = await startDaemon(config);
    const restored = await waitForRestore({ ...wait, daemon });
    assert.is(restored["/tree/secret"], undefined, "rm -r reached the backup");
    assert.is(restored["/tree/deeper/a/b/c/leaf.txt"]?.split(" ")[0], "file");
    assert.is(restored["/tree/bin/run.sh"]?.split(" ")[1], "600");
    assert.is(await stopDaemon(daemon), 0);

    // Every snapshot and clone the agent made is gone again.
    const left = await must(z.zfs, ["list", "-H", "-t", "all", "-o", "name", "-r", pool.name]);
    assert.not.match(left, /rtb-/, `leftover snapshots or clones:\n${left}`);
  } finally {
    await killDaemons();
    await releaseZfs(pool, z, scratch.remove);
  }
});

test.run();
