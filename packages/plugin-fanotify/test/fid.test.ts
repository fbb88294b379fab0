import { execFileSync } from "node:child_process";
import { appendFileSync, linkSync, mkdirSync, renameSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { withBind, withTmpfs } from "./helpers/mounts.js";
import { startSource } from "./helpers/recorder.js";

const sh = (script: string) => execFileSync("sh", ["-c", script]);

test("tmpfs, FID mode: create, modify, append, truncate, renames, tree delete, hard link, editor save", async () => {
  await withTmpfs(async (mnt) => {
    const { recorder: rec, plugin, stop } = await startSource({ mountPoints: [mnt], mode: "fid", ignoreOwnProcess: false });
    try {
      assert.equal(plugin.watched, [{ mountPoint: mnt, fsType: "tmpfs", mode: "fid" }]);
      const a = join(mnt, "a.txt");
      writeFileSync(a, "one");
      await rec.update(a);

      rec.clear();
      appendFileSync(a, "two");
      await rec.update(a);

      rec.clear();
      truncateSync(a, 1);
      await rec.update(a);

      rec.clear();
      const b = join(mnt, "b.txt");
      sh(`mv '${a}' '${b}'`);
      await rec.move(a, b);

      // A directory with contents, renamed by another process, then a change deep inside it.
      const d = join(mnt, "d");
      mkdirSync(join(d, "sub"), { recursive: true });
      writeFileSync(join(d, "sub", "y"), "y");
      await rec.update(join(d, "sub", "y"));
      rec.clear();
      const e = join(mnt, "e");
      sh(`mv '${d}' '${e}'`);
      await rec.move(d, e);
      appendFileSync(join(e, "sub", "y"), "more");
      await rec.update(join(e, "sub", "y"));

      rec.clear();
      const link = join(mnt, "hard");
      linkSync(b, link);
      await rec.update(link);

      // Editor save: write a temporary file, then rename it over the original.
      rec.clear();
      const tmp = join(mnt, ".b.txt.swp");
      writeFileSync(tmp, "saved");
      renameSync(tmp, b);
      await rec.move(tmp, b);

      rec.clear();
      sh(`rm -r '${e}'`);
      await rec.delete(e);
      await rec.delete(join(e, "sub"));
      await rec.delete(join(e, "sub", "y"));
      assert.is(plugin.stats.unresolved, 0);
      assert.ok(recorder_only_under(rec.paths(), mnt), `every path is under the mount: ${JSON.stringify(rec.paths())}`);
    } finally {
      await stop();
    }
  });
});

function recorder_only_under(paths: string[], mnt: string): boolean {
  return paths.every((p) => p === mnt || p.startsWith(`${mnt}/`));
}

test("tmpfs, FID mode: a tree that existed before watching, deleted at once, resolves without rescans", async () => {
  await withTmpfs(async (mnt) => {
    const old = join(mnt, "old");
    mkdirSync(join(old, "x", "y"), { recursive: true });
    for (let i = 0; i < 50; i++) writeFileSync(join(old, "x", "y", `f${i}`), "z");
    const { recorder: rec, plugin, stop } = await startSource({ mountPoints: [mnt] });
    try {
      sh(`rm -r '${old}'`);
      await rec.delete(old);
      await rec.delete(join(old, "x", "y"));
      await rec.waitFor((e) => e.type === "delete" && e.path === join(old, "x", "y", "f49"), "delete f49");
      assert.is(plugin.stats.unresolved, 0);
      assert.not.ok(
        rec.events.some((e) => e.type === "rescan"),
        JSON.stringify(rec.events),
      );
    } finally {
      await stop();
    }
  });
});

test("events of other filesystems are ignored; writes through a bind mount are reported under the watched mount", async () => {
  await withTmpfs(async (other) => {
    await withTmpfs(async (mnt) => {
      const { recorder: rec, stop } = await startSource({ mountPoints: [mnt] });
      try {
        sh(`echo x > '${join(other, "outside")}'`);
        await withBind(mnt, async (bind) => {
          sh(`echo x > '${join(bind, "via-bind")}'`);
          await rec.update(join(mnt, "via-bind"));
        });
        sh(`echo x > '${join(mnt, "sentinel")}'`);
        await rec.update(join(mnt, "sentinel"));
        assert.not.ok(
          rec.paths().some((p) => p.startsWith(other)),
          `no event from the unmarked tmpfs: ${JSON.stringify(rec.events)}`,
        );
      } finally {
        await stop();
      }
    });
  });
});

test("own writes are dropped by default; ignored prefixes and .zfs/snapshot paths are dropped", async () => {
  await withTmpfs(async (mnt) => {
    const staging = join(mnt, "staging");
    const clones = join(mnt, "clones");
    mkdirSync(staging);
    mkdirSync(join(mnt, ".zfs", "snapshot", "s1"), { recursive: true });
    const { recorder: rec, plugin, stop } = await startSource({ mountPoints: [mnt], ignorePaths: [clones] }, { stagingDirectory: staging });
    try {
      writeFileSync(join(mnt, "mine"), "by this process");
      sh(`echo x > '${join(staging, "copy")}'; mkdir '${clones}'; echo x > '${join(clones, "f")}'`);
      sh(`echo x > '${join(mnt, ".zfs", "snapshot", "s1", "f")}'`);
      sh(`echo x > '${join(mnt, "theirs")}'`);
      await rec.update(join(mnt, "theirs"));
      assert.equal(rec.paths(), [join(mnt, "theirs")]);
      assert.ok(plugin.stats.ignored >= 4, `ignored ${plugin.stats.ignored}`);
    } finally {
      await stop();
    }
  });
});

test("kernels without FAN_RENAME: MOVED_FROM/MOVED_TO pairs still become moves", async () => {
  await withTmpfs(async (mnt) => {
    const { recorder: rec, stop } = await startSource({ mountPoints: [mnt], renameEvents: false });
    try {
      sh(`mkdir '${mnt}/d' && echo x > '${mnt}/d/f' && mv '${mnt}/d/f' '${mnt}/d/g' && mv '${mnt}/d' '${mnt}/e'`);
      await rec.move(join(mnt, "d", "f"), join(mnt, "d", "g"));
      await rec.move(join(mnt, "d"), join(mnt, "e"));
      sh(`echo y >> '${mnt}/e/g'`);
      await rec.update(join(mnt, "e", "g"));
    } finally {
      await stop();
    }
  });
});

test.run();
