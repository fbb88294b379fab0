// zfs-fuse keeps timestamps in whole seconds, so a change made in the same second as the one before it leaves ctime and
// mtime where they were. A scan that trusted (size, mtime, ctime, inode) alone would never see a chmod, or a rewrite of
// the same size, made in the second a backup read the file: the next scan must find both. Real zfs-fuse, the engine
// with the ZFS plugin reading through clones, as the daemon does.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { Engine, LocalDirectoryStorage, Restorer, loadTree, openRepository, silentSink } from "@rtbackup/core";
import { ZfsSnapshotPlugin } from "@rtbackup/plugin-zfs";
import { createTestPool, ensureZfsFuse, must, releaseZfs, type TestPool, type ZfsFuse } from "./helpers/zfsFuse.js";

async function backupOnce(src: string, dir: string): Promise<void> {
  const plugin = new ZfsSnapshotPlugin({ snapshotPrefix: `ct${process.pid}`, cloneDirectory: join(dir, "clones"), access: "clone" });
  const parameters = {
    storage: "local" as const,
    localStoragePath: join(dir, "store"),
    remoteFileStateCachePath: join(dir, "state"),
    stagingDirectory: join(dir, "staging"),
    backupRoots: [src],
    batchUploadConsolidationDelay: 10,
    snapshotSharingWindow: 5,
    pathFilters: [],
  };
  const engine = new Engine({ parameters, log: { sink: silentSink }, plugins: [plugin] });
  await engine.start();
  try {
    await engine.initialBackup();
  } finally {
    await engine.stop();
  }
}

async function restored(dir: string, src: string): Promise<{ mode: number; g: string }> {
  const out = await mkdtemp(join(dir, "out-"));
  const tree = await loadTree(await openRepository(new LocalDirectoryStorage({ path: join(dir, "store") })));
  const result = await new Restorer(tree.chunks).restore(Restorer.select(tree.entries, [src], true).entries, out);
  assert.is(result.errors, 0);
  const base = join(out, src.slice(1));
  const mode = tree.entries.get(join(src, "f"))!.mode;
  return { mode, g: await readFile(join(base, "g"), "utf8") };
}

test("whole-second timestamps: a chmod and a same-size rewrite in the second of a backup are found by the next scan", async () => {
  let z: ZfsFuse | undefined;
  let pool: TestPool | undefined;
  const dir = await mkdtemp(join(tmpdir(), "rtb-coarse-"));
  try {
    z = await ensureZfsFuse();
    pool = await createTestPool(z);
    await must(z.zfs, ["create", `${pool.name}/data`]);
    let exercised = 0;
    for (let attempt = 0; attempt < 6 && exercised < 2; attempt++) {
      const src = join(pool.mountpoint, "data", `try${attempt}`);
      const run = join(dir, `run${attempt}`);
      // Start at the top of a second, so that the writes, the backup and the changes after it share one.
      while (Date.now() % 1000 > 50) await delay(5);
      const second = Math.floor(Date.now() / 1000);
      await must("mkdir", [src]);
      await writeFile(join(src, "f"), "script");
      await chmod(join(src, "f"), 0o755);
      await writeFile(join(src, "g"), "before");
      await backupOnce(src, run);
      await chmod(join(src, "f"), 0o600);
      await writeFile(join(src, "g"), "after!");
      const { ctimeMs } = await stat(join(src, "g"));
      // Counted only when every step fell in one second (a slow moment leaves a run that proves nothing, but passes).
      if (Math.floor(Date.now() / 1000) === second && ctimeMs === second * 1000) exercised++;
      await backupOnce(src, run);
      assert.equal(await restored(run, src), { mode: 0o600, g: "after!" }, `attempt ${attempt}`);
    }
    assert.ok(exercised >= 1, "at least one attempt ran its backup and its changes within one second");
  } finally {
    await releaseZfs(pool, z, () => rm(dir, { recursive: true, force: true }));
  }
});

test.run();
