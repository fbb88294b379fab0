import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  MountTable,
  SnapshotNaming,
  classifyZfsFailure,
  diffToEvents,
  hostTag,
  ownerAlive,
  parseMountInfo,
  parseZfsDiff,
  parseZfsList,
  unescapeZfsDiffPath,
} from "@rtbackup/plugin-zfs";
import { spawnSync } from "node:child_process";
import { fixture } from "./helpers/FakeZfs.js";

test("parseZfsList reads zfs-fuse's recorded output: legacy, none, canmount=off, clones, names with spaces", () => {
  const rows = parseZfsList(fixture("zfs-fuse/list-filesystems.txt"));
  assert.is(rows.length, 8);
  const byName = new Map(rows.map((r) => [r.name, r]));
  assert.equal(byName.get("tank/home"), {
    name: "tank/home",
    type: "filesystem",
    mountpoint: "/srv/tank/home",
    mounted: true,
    origin: undefined,
  });
  assert.is(byName.get("tank/home/with space")!.mountpoint, "/srv/tank/home/with space");
  assert.is(byName.get("tank/legacy")!.mountpoint, "legacy");
  assert.is(byName.get("tank/legacy")!.mounted, false);
  assert.is(byName.get("tank/nomount")!.mountpoint, "none");
  assert.is(byName.get("tank/off")!.mounted, false);
  assert.is(byName.get("tank/rtb-0a1b2c3d-999999-20200101T000000000Z-1")!.origin, "tank/home@rtb-0a1b2c3d-999999-20200101T000000000Z-1");
});

test("parseZfsList reads OpenZFS output (mountpoint / on a root dataset, legacy mounted)", () => {
  const rows = parseZfsList(fixture("openzfs/list-filesystems.txt"));
  assert.is(rows.length, 13);
  const root = rows.find((r) => r.name === "rpool/ROOT/ubuntu_abc123")!;
  assert.is(root.mountpoint, "/");
  assert.ok(root.mounted);
  assert.is(rows.find((r) => r.name === "tank/other-clone")!.origin, "tank/data@manual");
});

test("parseZfsList: empty pools and a broken line", () => {
  assert.equal(parseZfsList(""), []);
  assert.equal(parseZfsList("no datasets available\n"), []);
  assert.throws(() => parseZfsList("tank\tfilesystem\t/tank\n"), /3 columns, expected 5/);
});

test("parseMountInfo decodes escapes, bind-mount roots and filesystem types", () => {
  const fuse = parseMountInfo(fixture("zfs-fuse/mountinfo.txt"));
  const space = fuse.find((m) => m.source === "tank/home/with space")!;
  assert.is(space.mountpoint, "/srv/tank/home/with space");
  assert.is(space.fsType, "fuse.zfs");
  const bind = fuse.find((m) => m.mountpoint === "/srv/bind")!;
  assert.is(bind.root, "/sub");
  assert.is(bind.source, "tank/home/alice");
  const open = parseMountInfo(fixture("openzfs/mountinfo.txt"));
  assert.is(open.find((m) => m.mountpoint === "/tank/data")!.fsType, "zfs");
  assert.is(open.find((m) => m.mountpoint === "/home/alice/.zfs/snapshot/daily")!.source, "rpool/USERDATA/alice_x1@daily");
  assert.equal(parseMountInfo("garbage line\n\n"), []);
});

test("MountTable finds the deepest mount; the last of stacked mounts wins", () => {
  const table = new MountTable([
    { root: "/", mountpoint: "/", fsType: "ext4", source: "/dev/vda" },
    { root: "/", mountpoint: "/a", fsType: "zfs", source: "p/a" },
    { root: "/", mountpoint: "/a/b", fsType: "zfs", source: "p/b" },
    { root: "/", mountpoint: "/a/b", fsType: "tmpfs", source: "tmpfs" },
  ]);
  assert.is(table.mountOf("/a/b/c/d")!.fsType, "tmpfs");
  assert.is(table.mountOf("/a/bc")!.source, "p/a");
  assert.is(table.mountOf("/a")!.source, "p/a");
  assert.is(table.mountOf("/etc/x")!.source, "/dev/vda");
});

test("SnapshotNaming makes unique names it recognises, and nothing else", () => {
  const naming = new SnapshotNaming("rtb", "0a1b2c3d", 4242);
  const t = Date.UTC(2026, 10, 22, 2, 36, 0, 123);
  const a = naming.next(t);
  const b = naming.next(t);
  assert.is(a, "rtb-0a1b2c3d-4242-20261122T023600123Z-1");
  assert.is.not(a, b);
  assert.equal(naming.parse(a), { host: "0a1b2c3d", pid: 4242, createdAt: t });
  assert.is(naming.parse("rtbx-0a1b2c3d-4242-20261122T023600123Z-1"), undefined);
  assert.is(naming.parse("manual"), undefined);
  assert.is(naming.parse(`${a}x`), undefined);
  assert.is(naming.parse(naming.nextMark(t)), undefined);
  assert.is(naming.parseMark(naming.nextMark(t)), t);
  assert.is(naming.parseMark("rtb-mark-ffffffff-20261122T023600123Z"), undefined);
  const other = new SnapshotNaming("rtb-home", "0a1b2c3d", 4242);
  assert.is(naming.parse(other.next(t)), undefined);
  assert.is(other.parse(a), undefined);
  assert.match(hostTag("some-host"), /^[0-9a-f]{8}$/);
});

test("ownerAlive: this process is alive for its own snapshots, not for ones older than it; a dead pid is not", () => {
  const now = Date.now();
  assert.ok(ownerAlive({ host: "x", pid: process.pid, createdAt: now }));
  assert.not.ok(ownerAlive({ host: "x", pid: process.pid, createdAt: Date.UTC(2000, 0, 1) }));
  const child = spawnSync("true");
  assert.not.ok(ownerAlive({ host: "x", pid: child.pid!, createdAt: now }));
});

test("classifyZfsFailure on recorded stderr of zfs-fuse and OpenZFS", () => {
  const cases: [string, string][] = [
    [
      "connect: No such file or directory\nPlease make sure that the zfs-fuse daemon is running.\ninternal error: failed to initialize ZFS library",
      "zfs-not-running",
    ],
    ["The ZFS modules are not loaded.\nTry running '/sbin/modprobe zfs' as root to load them.", "zfs-not-running"],
    ["connect: Permission denied\ninternal error: failed to initialize ZFS library", "permission-denied"],
    ["cannot create snapshot 'tank/home@x': permission denied", "permission-denied"],
    ["cannot create snapshot 'rtbexp/a@full1': out of space", "no-space"],
    ["cannot destroy 'rtbexp/a-rtbclone': dataset is busy", "busy"],
    ["cannot open 'rtbexp/nonexist': dataset does not exist", "not-found"],
    ["could not find any snapshots to destroy; check snapshot names.", "not-found"],
    ["cannot create snapshot 'rtbexp/a@x': dataset already exists", "exists"],
    [fixture("zfs-fuse/diff-stderr.txt"), "unsupported"],
    ["cannot destroy 'tank/a@x': snapshot has dependent clones", "failed"],
  ];
  for (const [stderr, reason] of cases) assert.is(classifyZfsFailure(stderr), reason, stderr);
});

test("parseZfsDiff reads OpenZFS's -F -H output: escapes, renames, link counts, delete queue", () => {
  const entries = parseZfsDiff(fixture("openzfs/diff.txt"));
  assert.equal(entries[0], { change: "M", kind: "/", path: "/tank/data" });
  assert.equal(entries[1], { change: "+", kind: "F", path: "/tank/data/new file.txt" });
  assert.equal(entries[4], { change: "R", kind: "F", path: "/tank/data/a.txt", to: "/tank/data/b.txt" });
  assert.equal(entries[6], { change: "M", kind: "F", path: "/tank/data/hardlinked" });
  assert.not.ok(entries.some((e) => e.path.includes("on_delete_queue")));
  assert.ok(entries.some((e) => e.path === "/tank/data/café"));
  assert.ok(entries.some((e) => e.path === "/tank/data/back\\slash"));
  assert.is(entries.length, 10);
  assert.is(unescapeZfsDiffPath("a\\0011b"), "a\tb");
  assert.throws(() => parseZfsDiff("X\tF\t/p\n"), /change type/);
  assert.throws(() => parseZfsDiff("R\tF\t/p\n"), /rename without/);
});

test("diffToEvents: removals first, renames as delete + update (rescan for directories)", () => {
  const events = diffToEvents(parseZfsDiff(fixture("openzfs/diff.txt")));
  const firstUpdate = events.findIndex((e) => e.type !== "delete");
  assert.ok(events.slice(firstUpdate).every((e) => e.type !== "delete"));
  assert.equal(
    events.filter((e) => e.type === "delete").map((e) => e.type === "delete" && e.path),
    ["/tank/data/old.txt", "/tank/data/a.txt", "/tank/data/dir1"],
  );
  assert.ok(events.some((e) => e.type === "update" && e.path === "/tank/data/b.txt"));
  assert.ok(events.some((e) => e.type === "rescan" && e.path === "/tank/data/dir2"));
  assert.ok(events.some((e) => e.type === "update" && e.path === "/tank/data/changed.bin"));
});

test.run();
