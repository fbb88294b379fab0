// Snapshot cost on zfs-fuse: create (snapshot + read-only clone) → pathOf + read every file of the batch → release
// (destroy clone, then snapshot), with 1 and with 1,000 files in the batch. Medians over several rounds.
// Uses the test harness (compiled to dist-test by `tsc -b`): installs/starts zfs-fuse if needed, creates a pool on a
// file vdev under a temporary directory, and destroys it (and a daemon it started) at the end.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Engine, silentSink } from "@rtbackup/core";
import { ZfsSnapshotPlugin } from "@rtbackup/plugin-zfs";
import { createTestPool, ensureZfsFuse, must } from "../dist-test/helpers/zfsFuse.js";

const say = (s) => process.stdout.write(`${s}\n`);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const z = await ensureZfsFuse();
const pool = await createTestPool(z, 256);
const figures = {};
try {
  const ds = `${pool.name}/bench`;
  await must(z.zfs, ["create", ds]);
  const mp = join(pool.mountpoint, "bench");
  const files = [];
  const body = Buffer.alloc(4096, 1);
  for (let i = 0; i < 1000; i++) {
    const dir = join(mp, `d${Math.floor(i / 100)}`);
    if (i % 100 === 0) await mkdir(dir, { recursive: true });
    const f = join(dir, `f${i}`);
    await writeFile(f, body);
    files.push(f);
  }

  const plugin = new ZfsSnapshotPlugin({ snapshotPrefix: `bench${process.pid}`, cloneDirectory: join(pool.dir, "clones") });
  const engine = new Engine({ parameters: { zfsBinaryPath: z.zfs }, log: { sink: silentSink }, plugins: [plugin] });
  await engine.hooks.initialize.promise();
  try {
    for (const [count, rounds] of [
      [1, 21],
      [1000, 7],
    ]) {
      const batch = files.slice(0, count);
      const create = [];
      const read = [];
      const release = [];
      const total = [];
      for (let r = 0; r < rounds; r++) {
        const t0 = performance.now();
        const snapshot = await engine.hooks.snapshot.promise({ filesystem: mp, paths: batch });
        const t1 = performance.now();
        for (const f of batch) {
          const data = await readFile(snapshot.pathOf(f));
          if (data.length !== body.length) throw new Error(`short read of ${f}`);
        }
        const t2 = performance.now();
        await snapshot.release();
        const t3 = performance.now();
        create.push(t1 - t0);
        read.push(t2 - t1);
        release.push(t3 - t2);
        total.push(t3 - t0);
      }
      if (plugin.pendingReleases) throw new Error(`${plugin.pendingReleases} release(s) still pending`);
      const key = `${count}_file${count > 1 ? "s" : ""}`;
      figures[`zfs_fuse_${key}_total_median_ms`] = median(total);
      figures[`zfs_fuse_${key}_create_median_ms`] = median(create);
      figures[`zfs_fuse_${key}_read_median_ms`] = median(read);
      figures[`zfs_fuse_${key}_release_median_ms`] = median(release);
      say(
        `${count} file(s), ${rounds} rounds: total ${median(total).toFixed(1)} ms (create ${median(create).toFixed(1)}, ` +
          `pathOf+read ${median(read).toFixed(1)}, release ${median(release).toFixed(1)})`,
      );
    }

    // What the clone adds: a bare `zfs snapshot` + `zfs destroy`, without clone, mount check or unmount.
    const bare = [];
    for (let r = 0; r < 21; r++) {
      const t0 = performance.now();
      await must(z.zfs, ["snapshot", `${ds}@bare${r}`]);
      await must(z.zfs, ["destroy", `${ds}@bare${r}`]);
      bare.push(performance.now() - t0);
    }
    figures.zfs_fuse_bare_snapshot_destroy_median_ms = median(bare);
    say(`bare zfs snapshot + destroy (no clone): ${median(bare).toFixed(1)} ms`);
  } finally {
    await engine.hooks.shutdown.promise();
  }
} finally {
  await pool.destroy();
  await z.stop();
}
say(`BENCH_RESULT ${JSON.stringify(figures)}`);
