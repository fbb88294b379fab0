// End to end, issue 4: the real daemon (`rtb run`, default preset → FanotifySourcePlugin, live snapshots since tmpfs
// has none, procfs stability check, local store) follows a workload of real commands on a tmpfs this test mounts,
// and `rtb restore` brings back the same tree. Runs as root (fanotify needs CAP_SYS_ADMIN), as CI does.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import {
  buildMaterial,
  describeTree,
  killDaemons,
  mountTmpfs,
  restoredTree,
  scratchDirectory,
  shell,
  startDaemon,
  stopDaemon,
  unmount,
  waitFor,
  waitForRestore,
  writeJsonConfig,
} from "./helpers/e2e.js";

/** Lists every object key under a local store directory. */
async function storeObjects(store: string): Promise<string[]> {
  const entries = await readdir(store, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

test("fanotify daemon: cp -r, mv, rm -r, sed -i, tar -x and editor saves on a tmpfs; restore equals the tree", async () => {
  const scratch = await scratchDirectory("rtb-e2e-fan-");
  const mnt = join(scratch.dir, "mnt");
  let mounted = false;
  try {
    const { tree, archive } = await buildMaterial(join(scratch.dir, "material"));
    await mountTmpfs(mnt);
    mounted = true;
    // The backup root is a directory of the tmpfs; the rest of the filesystem is watched but not backed up.
    const root = join(mnt, "home");
    await mkdir(root);
    // The agent's own directories live on the watched filesystem, inside the backup root: the preset must keep
    // them out of the backup and keep the store's own writes from coming back as changes.
    const agent = join(root, ".rtb");
    const store = join(agent, "store");
    const config = join(scratch.dir, "rtb.config.json");
    await writeJsonConfig(config, {
      storage: "local",
      localStoragePath: store,
      remoteFileStateCachePath: join(agent, "state"),
      stagingDirectory: join(agent, "staging"),
      errorLogFilePath: join(scratch.dir, "error.log"),
      ipcPath: join(scratch.dir, "ipc"),
      backupRoots: [root],
      monitorFileSystemTypes: ["tmpfs"],
      enableFileAccessNotify: true,
      snapshotSharingWindow: "PT0.1S",
      batchUploadConsolidationDelay: "PT0.1S",
      openFileHandlePollingInterval: "PT0.2S",
      // Only fanotify may find the changes below: the start-up scan sees an empty tree, the next one is an hour away.
      periodicRescanInterval: "PT1H",
      pathFilters: { rules: [], replaceDefaults: true },
    });
    const daemon = await startDaemon(config);
    // Only the filesystem holding the backup root is watched (not every tmpfs of the machine), in FID mode.
    const watching = daemon.log().match(/watching (\S+) \(tmpfs, (\w+) mode\)/g) ?? [];
    assert.equal(watching, [`watching ${mnt} (tmpfs, fid mode)`], daemon.log());
    // `.rtb` itself is an ordinary directory of the root; what the agent keeps in it is not expected in the restore.
    const own = new Set(["/.rtb/store", "/.rtb/state", "/.rtb/staging"]);
    const wait = { store, root, scratch: scratch.dir, skip: (rel: string) => own.has(rel), daemon };

    await shell(`cp -r '${tree}' tree && cp -r '${tree}' ../outside`, root);
    await waitForRestore(wait);

    // Editor saves: sed -i and the write-temp-then-rename pattern. vim's default (rename to file~, write file, delete
    // file~) is left out while core's intake drops a delete or move of a path whose record is still an uncommitted
    // move (the edit.txt~ record survives), and so is moving a file out of a directory moved moments before.
    await shell(
      `mv tree/docs/notes.md tree/notes-moved.md
       mv tree/deep tree/deeper
       mv tree/many tree/docs/many
       rm -r tree/secret
       sed -i 's/foo/bar/g' tree/docs/readme.txt
       mkdir extracted && tar -xf '${archive}' -C extracted
       printf 'v2\\n' > tree/.conf.tmp && chmod 640 tree/.conf.tmp && mv -f tree/.conf.tmp tree/conf
       chmod 700 tree/bin/run.sh
       ln -s ../big.bin tree/docs/big-link
       rm tree/empty && touch tree/new-empty
       printf 'appended' >> tree/docs/naïve\\ file.txt
       head -c 1000 /dev/urandom | dd of=tree/big.bin bs=1000 seek=1000 conv=notrunc 2>/dev/null
       mkdir tree/docs/sub && mv tree/docs/readme.txt tree/docs/naïve\\ file.txt tree/docs/sub/
       printf 'rewritten in place\\n' > tree/edit.txt
       rm -r tree/emptydir
       mv ../outside/docs tree/docs-from-outside
       mv tree/readme-link ../outside/link-moved-out`,
      root,
    );
    const restored = await waitForRestore(wait);
    // The tree is what the commands made (spot checks that the workload really ran), and no agent file got in.
    assert.is(restored["/tree/docs/sub/readme.txt"]?.split(" ")[0], "file");
    assert.is(restored["/tree/docs/readme.txt"], undefined, "the moved file's old name is gone");
    assert.ok(restored["/extracted/etc/sub/file"], "tar -x extracted into the restore");
    assert.is(restored["/tree/secret"], undefined, "rm -r reached the backup");
    assert.is(restored["/tree/deep"], undefined, "the renamed directory's old name is gone");
    assert.is(restored["/tree/deeper/a/b/c/leaf.txt"]?.split(" ")[0], "file");
    assert.ok(restored["/tree/docs-from-outside/readme.txt"], "a directory moved in from outside the root is backed up");
    assert.is(restored["/tree/readme-link"], undefined, "a path moved out of the root is gone from the backup");

    // A hard link to a file committed long ago: the new name is an event, the old one only an attribute change of
    // its inode (its link count), which must reach the backup too, or the restore makes two files.
    await shell(`ln tree/deeper/a/b/c/leaf.txt tree/leaf-hardlink`, root);
    const linked = await waitForRestore(wait);
    assert.match(linked["/tree/leaf-hardlink"] ?? "", / ×2$/, "restored as one inode with two names");

    // A write through one name of that file: the kernel reports it for that name only. The other name's record
    // follows (its content is the same file's), or the restore would make two files, one of them stale.
    await shell(`printf 'appended through the link\\n' >> tree/leaf-hardlink`, root);
    const written = await waitForRestore(wait);
    assert.is(written["/tree/deeper/a/b/c/leaf.txt"], written["/tree/leaf-hardlink"]);
    assert.not.equal(written["/tree/leaf-hardlink"], linked["/tree/leaf-hardlink"], "the new content");

    // Attribute-only changes (FAN_ATTRIB): an extended attribute, an ACL (on a file and a directory's default ACL), a
    // chmod. Each is committed; the restore shows them (describeTree lists every attribute).
    await shell(
      `setfattr -n user.tag -v reviewed tree/conf
       setfacl -m u:nobody:r tree/notes-moved.md
       setfacl -d -m u:nobody:rx tree/docs
       chmod 600 tree/docs/sub/readme.txt`,
      root,
    );
    const attributed = await waitForRestore(wait);
    assert.match(attributed["/tree/conf"] ?? "", /xattrs=user\.tag:7265766965776564$/);
    assert.match(attributed["/tree/notes-moved.md"] ?? "", /xattrs=system\.posix_acl_access:/);
    assert.match(attributed["/tree/docs"] ?? "", /xattrs=system\.posix_acl_default:/);
    assert.match(attributed["/tree/docs/sub/readme.txt"] ?? "", /^file 600 /);
    assert.equal(
      Object.keys(restored).filter((k) => k.startsWith("/.rtb")),
      ["/.rtb"],
      "the agent's own directories are not backed up",
    );
    const whole = await restoredTree(store, mnt, scratch.dir);
    assert.equal(
      typeof whole === "string" ? whole : Object.keys(whole).filter((k) => !k.startsWith("/home")),
      [],
      "nothing outside the backup root is backed up",
    );

    // No feedback loop: with the tree backed up, the store stops changing (a loop would commit a batch every 0.1 s).
    let objects = await storeObjects(store);
    let stableSince = Date.now();
    await waitFor(
      "the store to stay unchanged for 1.5 s",
      async () => {
        const now = await storeObjects(store);
        if (JSON.stringify(now) !== JSON.stringify(objects)) {
          objects = now;
          stableSince = Date.now();
        }
        return Date.now() - stableSince >= 1500;
      },
      15_000,
    );

    assert.is(await stopDaemon(daemon), 0, "SIGTERM drains and exits 0");
    assert.ok((await describeTree(agent))["/store/config"], "the local store lives on the watched tmpfs");
  } finally {
    await killDaemons();
    if (mounted) await unmount(mnt);
    await scratch.remove();
  }
});

test.run();
