import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { withTmpfs } from "./helpers/mounts.js";
import { startSource } from "./helpers/recorder.js";

/** More files than the default queue (16,384 events) holds, created by another process while nobody reads. */
const FILES = 20_000;
const burst = (dir: string) => execFileSync("sh", ["-c", `cd '${dir}' && i=0; while [ $i -lt ${FILES} ]; do : > f$i; i=$((i+1)); done`]);

test("a stalled reader overflows the default queue: the overflow becomes a rescan of the filesystem", async () => {
  await withTmpfs(async (mnt) => {
    const { recorder: rec, plugin, stop } = await startSource({ mountPoints: [mnt] });
    try {
      plugin.pause();
      burst(mnt);
      plugin.resume();
      const rescan = await rec.waitFor((e) => e.type === "rescan", "overflow rescan", 15_000);
      assert.equal(rescan, { type: "rescan", path: mnt, reason: "fanotify queue overflow" });
      assert.is(plugin.stats.overflows, 1);
      assert.ok(plugin.stats.events <= 16_385, `the kernel queue held at most 16,384 events (${plugin.stats.events})`);
      // Every change of the burst lies under the rescan root, and the source keeps working after the overflow.
      assert.ok(rec.paths().every((p) => p === mnt || p.startsWith(`${mnt}/`)));
      execFileSync("sh", ["-c", `echo after > '${mnt}/after'`]);
      await rec.update(join(mnt, "after"));
    } finally {
      await stop();
    }
  });
});

test("with the unlimited queue the same stall loses nothing: every file arrives, no overflow", async () => {
  await withTmpfs(async (mnt) => {
    const { recorder: rec, plugin, stop } = await startSource({ mountPoints: [mnt], queue: "unlimited" });
    try {
      plugin.pause();
      burst(mnt);
      plugin.resume();
      await rec.update(join(mnt, `f${FILES - 1}`), 15_000);
      const updated = new Set(rec.events.filter((e) => e.type === "update").map((e) => (e as { path: string }).path));
      for (let i = 0; i < FILES; i++) assert.ok(updated.has(join(mnt, `f${i}`)), `f${i} arrived`);
      assert.is(plugin.stats.overflows, 0);
      assert.not.ok(rec.events.some((e) => e.type === "rescan"));
    } finally {
      await stop();
    }
  });
});

test.run();
