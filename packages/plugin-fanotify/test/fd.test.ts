import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { withTmpfs } from "./helpers/mounts.js";
import { startSource } from "./helpers/recorder.js";

const sh = (script: string) => execFileSync("sh", ["-c", script]);

/** ramfs has no file-handle support: fanotify refuses FID marks on it with EOPNOTSUPP. */
async function withRamfs<T>(fn: (mountPoint: string) => Promise<T>): Promise<T> {
  const base = mkdtempSync(join(tmpdir(), "rtb-fan-ramfs-"));
  const mountPoint = join(base, "mnt");
  mkdirSync(mountPoint);
  let mounted = false;
  try {
    execFileSync("mount", ["-t", "ramfs", "rtb-fanotify-ramfs", mountPoint]);
    mounted = true;
    return await fn(mountPoint);
  } finally {
    if (mounted) execFileSync("umount", ["-l", mountPoint]);
    rmSync(base, { recursive: true, force: true });
  }
}

test("auto mode falls back to fd mode where the filesystem has no file handles (ramfs), and reports writes", async () => {
  await withRamfs(async (mnt) => {
    const { recorder: rec, plugin, stop } = await startSource({ mountPoints: [mnt] });
    try {
      assert.equal(plugin.watched, [{ mountPoint: mnt, fsType: "ramfs", mode: "fd" }]);
      sh(`mkdir '${mnt}/d' && echo hello > '${mnt}/d/f'`);
      await rec.update(join(mnt, "d", "f"));
      sh(`echo more >> '${mnt}/d/f'`);
      rec.clear();
      await rec.update(join(mnt, "d", "f"));
    } finally {
      await stop();
    }
  });
});

test("fid mode refuses a filesystem without file handles with a clear error", async () => {
  await withRamfs(async (mnt) => {
    try {
      const { stop } = await startSource({ mountPoints: [mnt], mode: "fid" });
      await stop();
      assert.unreachable("fid mode on ramfs must fail");
    } catch (err) {
      const cause = (err as { cause?: Error }).cause;
      assert.match(String(cause?.message), "cannot report file handles");
      assert.match(String(cause?.message), 'use mode "fd"');
    }
  });
});

test("fd mode on tmpfs: a file deleted before its event is read becomes a rescan of its directory", async () => {
  await withTmpfs(async (mnt) => {
    const options = { mountPoints: [mnt], mode: "fd" as const, rescanEventDirectories: false, rescanDelay: 50 };
    const { recorder: rec, plugin, stop } = await startSource(options);
    try {
      assert.equal(
        plugin.watched.map((w) => w.mode),
        ["fd"],
      );
      plugin.pause();
      sh(`mkdir '${mnt}/dir' && echo x > '${mnt}/dir/gone' && rm '${mnt}/dir/gone' && echo y > '${mnt}/kept'`);
      plugin.resume();
      await rec.update(join(mnt, "kept"));
      await rec.waitFor((e) => e.type === "rescan" && e.path === join(mnt, "dir"), "rescan of dir");
      assert.ok(plugin.stats.unresolved >= 1);
      assert.not.ok(rec.paths().some((p) => p.includes("(deleted)")));
    } finally {
      await stop();
    }
  });
});

test.run();
