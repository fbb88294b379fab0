import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { withExt4 } from "./helpers/mounts.js";
import { startSource } from "./helpers/recorder.js";

const sh = (script: string) => execFileSync("sh", ["-c", script]);

test("ext4 on a loop device, FID mode: create, modify, directory rename, hard link, tree delete", async () => {
  await withExt4(async (mnt) => {
    const { recorder: rec, plugin, stop } = await startSource({ mountPoints: [mnt] });
    try {
      const mine = plugin.watched.find((w) => w.mountPoint === mnt);
      assert.equal(mine, { mountPoint: mnt, fsType: "ext4", mode: "fid" });
      sh(`mkdir -p '${mnt}/p/q' && echo 1 > '${mnt}/p/q/f'`);
      await rec.update(join(mnt, "p", "q", "f"));
      rec.clear();
      sh(`echo 2 >> '${mnt}/p/q/f' && truncate -s 1 '${mnt}/p/q/f'`);
      await rec.update(join(mnt, "p", "q", "f"));
      rec.clear();
      sh(`mv '${mnt}/p' '${mnt}/r' && echo 3 >> '${mnt}/r/q/f' && ln '${mnt}/r/q/f' '${mnt}/r/link'`);
      await rec.move(join(mnt, "p"), join(mnt, "r"));
      await rec.update(join(mnt, "r", "q", "f"));
      await rec.update(join(mnt, "r", "link"));
      rec.clear();
      sh(`rm -r '${mnt}/r'`);
      await rec.delete(join(mnt, "r"));
      await rec.delete(join(mnt, "r", "q", "f"));
      assert.is(plugin.stats.unresolved, 0);
    } finally {
      await stop();
    }
  });
});

test.run();
