// Unit tests of ZfsSnapshotPlugin against zfs-fuse's recorded `zfs list` and mountinfo (type fuse.zfs, no .zfs
// directory: snapshots are read through read-only clones), with an injected fake `zfs`.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PluginError } from "@rtbackup/core";
import { ZfsError, ZfsSnapshotPlugin, type ZfsSnapshot } from "@rtbackup/plugin-zfs";
import { engineWith } from "./helpers/engine.js";
import { FakeZfs } from "./helpers/FakeZfs.js";

const HOST = "0a1b2c3d";
const test = suite<{ dir: string }>("zfs-fuse", { dir: "" });

test.before.each(async (ctx) => {
  ctx.dir = await mkdtemp(join(tmpdir(), "rtb-zfs-unit-"));
});
test.after.each(async (ctx) => {
  await rm(ctx.dir, { recursive: true, force: true });
});

function setup(dir: string, extra: Record<string, unknown> = {}) {
  const fake = new FakeZfs("zfs-fuse");
  const plugin = new ZfsSnapshotPlugin({
    exec: fake.exec,
    readMountInfo: fake.readMountInfo,
    pathExists: async () => false,
    ownerAlive: (o: { pid: number }) => o.pid !== 999999,
    hostTag: HOST,
    cloneDirectory: join(dir, "clones"),
    busyRetryTime: 1000,
    ...extra,
  });
  const { engine, logs } = engineWith(plugin, { zfsBinaryPath: "/usr/sbin/zfs" });
  return { fake, plugin, engine, logs };
}

async function snapshotOf(engine: ReturnType<typeof setup>["engine"], filesystem: string): Promise<ZfsSnapshot> {
  const s = await engine.hooks.snapshot.promise({ filesystem, paths: [`${filesystem}/f`] });
  assert.ok(s, `a snapshot of ${filesystem}`);
  return s as ZfsSnapshot;
}

test("discovers datasets from zfs list + mountinfo and maps paths to the deepest dataset", async ({ dir }) => {
  const { engine, plugin, fake } = setup(dir);
  await engine.hooks.initialize.promise();
  assert.ok(fake.commandLines.includes("list -H -o name,type,mountpoint,mounted,origin -t filesystem"));
  const mounts = plugin.mounts.map((m) => `${m.dataset}@${m.mountpoint}:${m.root}:${m.fsType}:${m.snapdir ?? "clone"}`);
  assert.equal(mounts.sort(), [
    "tank/home/alice@/srv/bind:/sub:fuse.zfs:clone",
    "tank/home/alice@/srv/tank/home/alice:/:fuse.zfs:clone",
    "tank/home/with space@/srv/tank/home/with space:/:fuse.zfs:clone",
    "tank/home@/srv/tank/home:/:fuse.zfs:clone",
    "tank@/srv/tank:/:fuse.zfs:clone",
  ]);
  const fs = (p: string) => engine.hooks.filesystem.call(p);
  assert.is(fs("/srv/tank/home/alice/docs/a.txt"), "/srv/tank/home/alice");
  assert.is(fs("/srv/tank/home/alice"), "/srv/tank/home/alice");
  assert.is(fs("/srv/tank/home/alicex/a"), "/srv/tank/home");
  assert.is(fs("/srv/tank/home/with space/x"), "/srv/tank/home/with space");
  assert.is(fs("/srv/tank/readme"), "/srv/tank");
  assert.is(fs("/srv/tank/home/tmpfs/x"), undefined, "a tmpfs below a dataset is not ZFS");
  assert.is(fs("/etc/passwd"), undefined);
  assert.is(fs("/srv/clones/rtb-0a1b2c3d-999999-20200101T000000000Z-1/x"), undefined, "our clones are not filesystems");
});

test("start-up destroys only our stale clone (first) and snapshot; foreign snapshots survive", async ({ dir }) => {
  const { engine, plugin, fake } = setup(dir);
  await engine.hooks.initialize.promise();
  const destroys = fake.commandLines.filter((c) => c.startsWith("destroy "));
  assert.equal(destroys, ["destroy tank/rtb-0a1b2c3d-999999-20200101T000000000Z-1", "destroy tank/home@rtb-0a1b2c3d-999999-20200101T000000000Z-1"]);
  assert.equal(fake.snapshots, ["tank/home@manual"]);
  assert.equal(plugin.staleCleanup?.destroyed.length, 2);
});

test("start-up removes the empty clone directory a SIGKILL during zfs clone left, and only ours that are stale", async ({ dir }) => {
  const { engine, plugin } = setup(dir, { ownerAlive: (o: { pid: number }) => o.pid === process.pid });
  const clones = join(dir, "clones");
  const left = join(clones, "rtb-0a1b2c3d-999998-20200101T000000000Z-7");
  const live = join(clones, `rtb-0a1b2c3d-${process.pid}-20200101T000000000Z-8`);
  const full = join(clones, "rtb-0a1b2c3d-999997-20200101T000000000Z-9");
  const foreign = join(clones, "not-ours");
  for (const d of [left, live, full, foreign]) await mkdir(d, { recursive: true });
  await writeFile(join(full, "keep"), "x");
  await engine.hooks.initialize.promise();
  assert.not.ok(existsSync(left), "the empty stale clone directory is gone");
  assert.ok(existsSync(live) && existsSync(foreign) && existsSync(join(full, "keep")), "nothing else is touched");
  assert.ok(plugin.staleCleanup?.destroyed.includes(left));
  assert.ok(plugin.staleCleanup?.failed.includes(full), "a non-empty one is reported, not emptied");
});

test("a live agent's snapshot (owner still running) is left alone", async ({ dir }) => {
  const { engine, fake } = setup(dir, { ownerAlive: () => true });
  await engine.hooks.initialize.promise();
  assert.not.ok(fake.commandLines.some((c) => c.startsWith("destroy ")));
});

test("snapshot through a read-only clone: names, pathOf (also through a bind mount), release order", async ({ dir }) => {
  const { engine, fake } = setup(dir);
  await engine.hooks.initialize.promise();
  fake.calls.length = 0;
  const s = await snapshotOf(engine, "/srv/tank/home");
  assert.match(s.name, /^tank\/home@rtb-0a1b2c3d-\d+-\d{8}T\d{9}Z-1$/);
  const short = s.name.split("@")[1]!;
  const cloneDir = join(dir, "clones", short);
  assert.equal(fake.commandLines, [`snapshot ${s.name}`, `clone -o readonly=on -o mountpoint=${cloneDir} ${s.name} tank/${short}`]);
  assert.is(s.filesystem, "/srv/tank/home");
  assert.is(s.pathOf("/srv/tank/home/docs/a b.txt"), `${cloneDir}/docs/a b.txt`);
  assert.is(s.pathOf("/srv/tank/home"), cloneDir);
  const bind = await snapshotOf(engine, "/srv/bind");
  assert.match(bind.name, /^tank\/home\/alice@/);
  assert.is(bind.pathOf("/srv/bind/f"), `${join(dir, "clones", bind.name.split("@")[1]!)}/sub/f`);
  fake.calls.length = 0;
  await s.release();
  await s.release();
  assert.equal(fake.commandLines, [`destroy tank/${short}`, `destroy ${s.name}`]);
  assert.throws(() => s.pathOf("/srv/tank/home/x"), /already released/);
  await bind.release();
});

test("two snapshots of one dataset get different names", async ({ dir }) => {
  const { engine } = setup(dir);
  await engine.hooks.initialize.promise();
  const [a, b] = await Promise.all([snapshotOf(engine, "/srv/tank/home"), snapshotOf(engine, "/srv/tank/home")]);
  assert.is.not(a.name, b.name);
  await a.release();
  await b.release();
});

test("release retries 'dataset is busy' on the clone, then succeeds", async ({ dir }) => {
  const { engine, fake, plugin } = setup(dir);
  await engine.hooks.initialize.promise();
  const s = await snapshotOf(engine, "/srv/tank/home");
  fake.fail((a) => a[0] === "destroy" && !a[1]!.includes("@"), "cannot destroy 'x': dataset is busy", 2);
  fake.calls.length = 0;
  await s.release();
  assert.is(fake.commandLines.filter((c) => c.startsWith("destroy tank/rtb-")).length, 3);
  assert.is(fake.snapshots.includes(s.name), false);
  assert.is(plugin.pendingReleases, 0);
});

test("busy past the deadline: release resolves, the destroy is retried and done at shutdown", async ({ dir }) => {
  const { engine, fake, plugin, logs } = setup(dir, { busyRetryTime: 0 });
  await engine.hooks.initialize.promise();
  const s = await snapshotOf(engine, "/srv/tank/home");
  fake.fail((a) => a[0] === "destroy", "cannot destroy 'x': dataset is busy", 1);
  await s.release();
  assert.is(plugin.pendingReleases, 1);
  assert.ok(fake.snapshots.includes(s.name), "still there");
  assert.ok(logs.some((l) => l.startsWith("warn") && l.includes("will retry")));
  await engine.hooks.shutdown.promise();
  assert.is(plugin.pendingReleases, 0);
  assert.not.ok(fake.snapshots.includes(s.name));
});

test("a failing zfs snapshot is SNAPSHOT_FAILED with the command line and stderr (pool full)", async ({ dir }) => {
  const { engine, fake } = setup(dir);
  await engine.hooks.initialize.promise();
  fake.fail("snapshot", "cannot create snapshot 'tank/home@x': out of space");
  const err = await engine.hooks.snapshot.promise({ filesystem: "/srv/tank/home", paths: [] }).then(
    () => assert.unreachable("should fail"),
    (e: unknown) => e,
  );
  assert.instance(err, PluginError);
  const cause = (err as PluginError).cause as ZfsError;
  assert.instance(cause, ZfsError);
  assert.is(cause.code, "SNAPSHOT_FAILED");
  assert.is(cause.reason, "no-space");
  assert.match(cause.command!, /^\/usr\/sbin\/zfs snapshot tank\/home@rtb-/);
  assert.is(cause.stderr, "cannot create snapshot 'tank/home@x': out of space");
  assert.match(cause.message, /out of space/);
});

test("a failing clone destroys the snapshot it was made from", async ({ dir }) => {
  const { engine, fake } = setup(dir);
  await engine.hooks.initialize.promise();
  fake.fail("clone", "cannot create 'tank/x': permission denied");
  const err = await engine.hooks.snapshot.promise({ filesystem: "/srv/tank/home", paths: [] }).catch((e) => e);
  assert.is(((err as PluginError).cause as ZfsError).reason, "permission-denied");
  assert.equal(fake.snapshots, ["tank/home@manual"]);
});

test("a clone that did not mount is mounted; if it still is not, the snapshot fails and is cleaned up", async ({ dir }) => {
  const { engine, fake } = setup(dir);
  await engine.hooks.initialize.promise();
  fake.mountClones = false;
  const s = await snapshotOf(engine, "/srv/tank/home");
  assert.ok(fake.commandLines.some((c) => c.startsWith("mount tank/rtb-")));
  await s.release();
  fake.fail("mount", "cannot mount: weird");
  const err = await engine.hooks.snapshot.promise({ filesystem: "/srv/tank/home", paths: [] }).catch((e) => e);
  assert.instance((err as PluginError).cause, ZfsError);
  assert.equal(fake.snapshots, ["tank/home@manual"]);
  assert.not.ok(fake.rows.some((r) => r.origin !== "-"));
});

test("an unmounted dataset is an error (never files that look deleted); a non-ZFS filesystem is not ours", async ({ dir }) => {
  const { engine, fake } = setup(dir);
  await engine.hooks.initialize.promise();
  assert.is(await engine.hooks.snapshot.promise({ filesystem: "/srv/other", paths: [] }), undefined);
  fake.unmount("/srv/tank/home/alice");
  const err = await engine.hooks.snapshot.promise({ filesystem: "/srv/tank/home/alice", paths: [] }).catch((e) => e);
  const cause = (err as PluginError).cause as ZfsError;
  assert.is(cause.reason, "not-mounted");
  assert.is(cause.code, "SNAPSHOT_FAILED");
});

test("pathOf refuses paths off the dataset, including one a newly mounted dataset now holds", async ({ dir }) => {
  const { engine, fake } = setup(dir);
  await engine.hooks.initialize.promise();
  const s = await snapshotOf(engine, "/srv/tank/home");
  assert.throws(() => s.pathOf("/srv/tank/other/x"), /not under \/srv\/tank\/home/);
  assert.throws(
    () => s.pathOf("/srv/tank/home/alice/x"),
    (e: unknown) => (e as ZfsError).reason === "not-mounted",
  );
  fake.rows.push({ name: "tank/home/new", type: "filesystem", mountpoint: "/srv/tank/home/new", mounted: "yes", origin: "-" });
  fake.mount("tank/home/new", "/srv/tank/home/new");
  assert.is(s.pathOf("/srv/tank/home/new/x").endsWith("/new/x"), true, "not seen until the next refresh");
  const t = await snapshotOf(engine, "/srv/tank/home/new");
  assert.match(t.name, /^tank\/home\/new@/);
  assert.throws(() => s.pathOf("/srv/tank/home/new/x"), /no longer on dataset tank\/home/);
  await s.release();
  await t.release();
});

test("zfs list runs again only when ZFS mounts change", async ({ dir }) => {
  const { engine, fake } = setup(dir);
  await engine.hooks.initialize.promise();
  const lists = () => fake.commandLines.filter((c) => c.startsWith("list -H -o name,type")).length;
  const before = lists();
  await (await snapshotOf(engine, "/srv/tank/home")).release();
  fake.mount("tmpfs", "/srv/tank/home/scratch", "tmpfs");
  await (await snapshotOf(engine, "/srv/tank/home")).release();
  assert.is(lists(), before, "clone mounts and non-ZFS mounts do not count");
  fake.unmount("/srv/tank/home/with space");
  await (await snapshotOf(engine, "/srv/tank/home")).release();
  assert.is(lists(), before + 1);
  assert.is(engine.hooks.filesystem.call("/srv/tank/home/scratch/x"), undefined);
});

test("shutdown releases snapshots the engine still holds", async ({ dir }) => {
  const { engine, fake, plugin } = setup(dir);
  await engine.hooks.initialize.promise();
  await snapshotOf(engine, "/srv/tank/home");
  await snapshotOf(engine, "/srv/tank");
  assert.is(plugin.liveSnapshots, 2);
  await engine.hooks.shutdown.promise();
  assert.is(plugin.liveSnapshots, 0);
  assert.equal(fake.snapshots, ["tank/home@manual"]);
});

test("zfs-fuse has no zfs diff: change tracking says so, and the engine must rescan", async ({ dir }) => {
  const { engine, plugin } = setup(dir);
  await engine.hooks.initialize.promise();
  const support = await plugin.changes.diffSupport();
  assert.is(support.supported, false);
  const changes = await plugin.changes.changesSince("tank/home@rtb-mark-0a1b2c3d-20200101T000000000Z");
  assert.is(changes.supported, false);
});

test("zfs not running / missing / not permitted: initialize fails with a message that says what to fix", async ({ dir }) => {
  const { engine, fake } = setup(dir);
  fake.fail(
    "list",
    "connect: No such file or directory\nPlease make sure that the zfs-fuse daemon is running.\ninternal error: failed to initialize ZFS library",
  );
  const down = (await engine.hooks.initialize.promise().catch((e) => e)) as PluginError;
  assert.is((down.cause as ZfsError).reason, "zfs-not-running");
  assert.match(down.message, /start its daemon/);

  const missing = new ZfsSnapshotPlugin({ cloneDirectory: join(dir, "c2"), zfsBinaryPath: join(dir, "no-such-zfs") });
  const e2 = (await engineWith(missing)
    .engine.hooks.initialize.promise()
    .catch((e) => e)) as PluginError;
  assert.is((e2.cause as ZfsError).reason, "missing-binary");
  assert.match(e2.message, /ZFSBinaryPath/);
  assert.match(e2.message, /no-such-zfs/);

  const denied = setup(dir);
  denied.fake.fail("list", "connect: Permission denied\ninternal error: failed to initialize ZFS library");
  const e3 = (await denied.engine.hooks.initialize.promise().catch((e) => e)) as PluginError;
  assert.is((e3.cause as ZfsError).reason, "permission-denied");
  assert.match(e3.message, /run the agent as root/);
});

test("whenZfsDown read-live: ZFS not running is a warning, files are read live; other failures still stop the start", async ({ dir }) => {
  const { engine, fake, logs, plugin } = setup(dir, { whenZfsDown: "read-live" });
  fake.fail("list", "connect: No such file or directory\nPlease make sure that the zfs-fuse daemon is running.");
  await engine.hooks.initialize.promise();
  assert.ok(
    logs.some((l) => /warn/.test(l) && /ZFS is not running.*read live, without snapshots/s.test(l)),
    logs.join("\n"),
  );
  assert.equal(plugin.mounts, [], "no dataset is known");
  assert.is(engine.hooks.filesystem.call("/srv/tank/home/alice/a.txt"), undefined);
  const snapshot = await engine.hooks.snapshot.promise({ filesystem: "/srv/tank", paths: ["/srv/tank/f"] });
  assert.not.instance(snapshot, Object, "no ZFS snapshot: the next strategy (live) reads the file");
  assert.not.ok(
    fake.commandLines.some((c) => c.startsWith("snapshot ")),
    fake.commandLines.join("\n"),
  );

  const denied = setup(dir, { whenZfsDown: "read-live" });
  denied.fake.fail("list", "connect: Permission denied\ninternal error: failed to initialize ZFS library");
  const err = (await denied.engine.hooks.initialize.promise().catch((e) => e)) as PluginError;
  assert.is((err.cause as ZfsError).reason, "permission-denied");
  assert.throws(() => new ZfsSnapshotPlugin({ whenZfsDown: "ignore" }), /whenZfsDown/);
});

test("a clone directory that cannot be created fails start-up naming the option", async ({ dir }) => {
  await writeFile(join(dir, "file"), "");
  const { engine } = setup(dir, { cloneDirectory: join(dir, "file", "clones") });
  const err = (await engine.hooks.initialize.promise().catch((e) => e)) as PluginError;
  assert.instance(err.cause, ZfsError);
  assert.match(err.message, /clone directory .*file\/clones \(option cloneDirectory\)/);
});

test("a dataset ZFS calls mounted but this process cannot see is reported", async ({ dir }) => {
  const { engine, fake, logs } = setup(dir);
  fake.rows.push({ name: "tank/elsewhere", type: "filesystem", mountpoint: "/srv/elsewhere", mounted: "yes", origin: "-" });
  await engine.hooks.initialize.promise();
  assert.ok(logs.some((l) => l.startsWith("warn") && l.includes("tank/elsewhere") && l.includes("does not see")));
  assert.not.ok(
    logs.some((l) => l.startsWith("warn") && l.includes("tank/off")),
    "canmount=off is not a problem",
  );
});

test("a clone name that already exists is not destroyed by the clean-up of the failed snapshot", async ({ dir }) => {
  const { engine, fake } = setup(dir);
  await engine.hooks.initialize.promise();
  fake.fail("clone", "cannot create 'tank/x': dataset already exists");
  const err = await engine.hooks.snapshot.promise({ filesystem: "/srv/tank/home", paths: [] }).catch((e) => e);
  assert.is(((err as PluginError).cause as ZfsError).reason, "exists");
  const destroys = fake.commandLines.filter((c) => c.startsWith("destroy ") && !c.includes("999999"));
  assert.equal(destroys.length, 1);
  assert.match(destroys[0]!, /^destroy tank\/home@rtb-/);
});

test.run();
