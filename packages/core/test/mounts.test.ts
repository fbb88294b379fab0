import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError, MountTable, decodeMountInfoField, fileSystemTypeMatches, isUnder, parseMountInfo, selectMounts, trimTrailingSlash } from "@rtbackup/core";

const SAMPLE = [
  "22 27 0:21 / /proc rw,relatime - proc proc rw",
  "27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard",
  "60 27 0:50 / /home rw,relatime shared:30 - zfs rpool/USERDATA/home rw,xattr,posixacl",
  "61 27 0:50 / /srv/home\\040copy rw,relatime shared:30 - zfs rpool/USERDATA/home rw,xattr,posixacl",
  "62 27 0:50 /alice /srv/alice rw,relatime shared:30 - zfs rpool/USERDATA/home rw",
  "63 27 0:51 / /tank rw,relatime - fuse.zfs tank rw,user_id=0,group_id=0",
  "64 27 0:52 / /data rw - ext4 /dev/sdb1 rw",
  "65 64 0:53 / /data rw - tmpfs none rw",
  "66 27 0:54 / /weird\\011tab\\012nl\\134bs rw - tmpfs none rw",
  "garbage line",
  "",
].join("\n");

test("parses mountinfo lines and decodes octal escapes", () => {
  const mounts = parseMountInfo(SAMPLE);
  assert.is(mounts.length, 9);
  const root = mounts[1]!;
  assert.equal(
    { id: root.mountId, parent: root.parentId, major: root.major, minor: root.minor, point: root.mountPoint },
    { id: 27, parent: 1, major: 254, minor: 0, point: "/" },
  );
  assert.equal(root.optionalFields, ["shared:1"]);
  assert.is(root.fsType, "ext4");
  assert.is(root.source, "/dev/vda");
  assert.is(root.superOptions, "rw,discard");
  assert.is(mounts[3]!.mountPoint, "/srv/home copy");
  assert.is(mounts[4]!.root, "/alice");
  assert.is(mounts[8]!.mountPoint, "/weird\ttab\nnl\\bs");
  assert.is(decodeMountInfoField("caf\\303\\251"), "café");
  assert.is(decodeMountInfoField("no\\escape\\9"), "no\\escape\\9");
});

test("mountOf picks the longest whole-component prefix and the mount stacked on top", () => {
  const table = MountTable.parse(SAMPLE);
  assert.is(table.mountOf("/home/alice/file")?.mountPoint, "/home");
  assert.is(table.mountOf("/homer")?.mountPoint, "/");
  assert.is(table.mountOf("/home")?.mountPoint, "/home");
  assert.is(table.mountOf("/srv/home copy/x")?.mountPoint, "/srv/home copy");
  assert.is(table.mountOf("/data/x")?.fsType, "tmpfs", "the tmpfs over-mounts the ext4 at /data");
  assert.is(table.find("/data/")?.fsType, "tmpfs");
  assert.not.ok(
    table.visible.some((m) => m.mountId === 64),
    "the covered ext4 is not visible",
  );
  assert.ok(isUnder("/a/b", "/a") && isUnder("/a", "/a") && !isUnder("/ab", "/a") && isUnder("/x", "/"));
  assert.is(trimTrailingSlash("/a//"), "/a");
  assert.is(trimTrailingSlash("/"), "/");
});

test("zfs matches fuse.zfs, and nothing else is widened", () => {
  assert.ok(fileSystemTypeMatches("fuse.zfs", ["zfs"]));
  assert.ok(fileSystemTypeMatches("zfs", ["zfs"]));
  assert.not.ok(fileSystemTypeMatches("fuse.sshfs", ["zfs"]));
  assert.not.ok(fileSystemTypeMatches("fuse.ext4", ["ext4"]));
});

test("selection: several mounts of one tree and none preferred is a ConfigError naming them", () => {
  const table = MountTable.parse(SAMPLE);
  try {
    table.select({ fileSystemTypes: ["zfs"] });
    assert.unreachable("should have thrown");
  } catch (err) {
    assert.instance(err, ConfigError);
    assert.is((err as ConfigError).where, "PreferredMountPoints");
    assert.match((err as Error).message, "/home, /srv/home copy");
    assert.match((err as Error).message, "rpool/USERDATA/home");
  }
});

test("selection: preferred mount wins, subdirectory binds dropped, types filtered, zfs-fuse included", () => {
  const table = MountTable.parse(SAMPLE);
  const chosen = table.select({ fileSystemTypes: ["zfs"], preferredMountPoints: ["/srv/home copy/"] });
  assert.equal(
    chosen.map((m) => m.mountPoint),
    ["/srv/home copy", "/tank"],
  );
  const tmp = table.select({ fileSystemTypes: ["tmpfs"] });
  assert.equal(
    tmp.map((m) => m.mountPoint),
    ["/data", "/weird\ttab\nnl\\bs"],
  );
  try {
    table.select({ fileSystemTypes: ["zfs"], preferredMountPoints: ["/home", "/srv/home copy"], where: "x.y" });
    assert.unreachable("two preferred mounts of one filesystem must be refused");
  } catch (err) {
    assert.instance(err, ConfigError);
    assert.is((err as ConfigError).where, "x.y");
    assert.match((err as Error).message, "several preferred");
  }
});

test("selection keeps a subdirectory mount when no wider root of that device is mounted", () => {
  const only = MountTable.parse("70 27 0:60 /sub /mnt/sub rw - ext4 /dev/sdc1 rw\n");
  assert.equal(
    only.select({ fileSystemTypes: ["ext4"] }).map((m) => m.mountPoint),
    ["/mnt/sub"],
  );
});

test("real mountinfo: tmpfs with a space in its path, a bind of it and a bind of a subdirectory", () => {
  if (process.getuid?.() !== 0) {
    console.log("skipped: needs root to mount");
    return;
  }
  const base = mkdtempSync(join(tmpdir(), "rtb-mounts-"));
  const main = join(base, "main dir");
  const bind = join(base, "bind");
  const sub = join(base, "sub");
  const mounted: string[] = [];
  try {
    for (const d of [main, bind, sub]) mkdirSync(d);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "rtbtest", main]);
    mounted.push(main);
    mkdirSync(join(main, "inner"));
    execFileSync("mount", ["--bind", main, bind]);
    mounted.push(bind);
    execFileSync("mount", ["--bind", join(main, "inner"), sub]);
    mounted.push(sub);
    const table = MountTable.readSync();
    const mine = table.visible.filter((m) => m.source === "rtbtest");
    assert.equal(mine.map((m) => m.mountPoint).sort(), [bind, main, sub].sort());
    assert.is(table.find(sub)?.root, "/inner");
    assert.is(table.mountOf(join(main, "inner", "f"))?.mountPoint, main);
    // Only our own mounts: other tmpfs trees on the machine may be bind-mounted without a preference.
    const wanted = selectMounts(mine, { fileSystemTypes: ["tmpfs"], preferredMountPoints: [main] });
    assert.equal(
      wanted.map((m) => m.mountPoint),
      [main],
    );
  } finally {
    for (const m of mounted.reverse()) execFileSync("umount", [m]);
    rmSync(base, { recursive: true, force: true });
  }
});

test.run();
