// Unit tests of ZfsSnapshotPlugin against OpenZFS-format `zfs list`, mountinfo and `zfs diff` fixtures (type zfs,
// `.zfs/snapshot` present: no clones), with an injected fake `zfs`.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ZfsSnapshotPlugin, type ZfsSnapshot } from "@rtbackup/plugin-zfs";
import { engineWith } from "./helpers/engine.js";
import { FakeZfs, fixture } from "./helpers/FakeZfs.js";

const HOST = "0a1b2c3d";
const test = suite<{ dir: string }>("openzfs", { dir: "" });

test.before.each(async (ctx) => {
  ctx.dir = await mkdtemp(join(tmpdir(), "rtb-zfs-unit-"));
});
test.after.each(async (ctx) => {
  await rm(ctx.dir, { recursive: true, force: true });
});

function setup(dir: string, extra: Record<string, unknown> = {}) {
  const fake = new FakeZfs("openzfs");
  const probed: string[] = [];
  const plugin = new ZfsSnapshotPlugin({
    exec: fake.exec,
    readMountInfo: fake.readMountInfo,
    // OpenZFS: every dataset root has .zfs/snapshot, and a snapshot appears there once it exists.
    pathExists: async (p: string) => {
      probed.push(p);
      const m = /^(.*)\/\.zfs\/snapshot(?:\/([^/]+))?$/.exec(p);
      return m !== null && (m[2] === undefined || fake.snapshots.some((s) => s.endsWith(`@${m[2]}`)));
    },
    ownerAlive: (o: { pid: number }) => o.pid === 1111,
    hostTag: HOST,
    cloneDirectory: join(dir, "clones"),
    ...extra,
  });
  const { engine, logs } = engineWith(plugin);
  return { fake, plugin, engine, logs, probed };
}

async function snapshotOf(engine: ReturnType<typeof setup>["engine"], filesystem: string): Promise<ZfsSnapshot> {
  const s = await engine.hooks.snapshot.promise({ filesystem, paths: [] });
  assert.ok(s, `a snapshot of ${filesystem}`);
  return s as ZfsSnapshot;
}

test("discovery: root dataset, legacy and bind mounts; snapshot auto-mounts, clones and tmpfs are not datasets", async ({ dir }) => {
  const { engine, plugin } = setup(dir);
  await engine.hooks.initialize.promise();
  const byMp = new Map(plugin.mounts.map((m) => [m.mountpoint, m]));
  assert.equal([...byMp.keys()].sort(), [
    "/",
    "/home/alice",
    "/mnt/legacy",
    "/root",
    "/srv/shared",
    "/tank",
    "/tank/data",
    "/tank/data/projects",
    "/tank/other",
  ]);
  assert.is(byMp.get("/")!.snapdir, "/.zfs/snapshot");
  assert.is(byMp.get("/tank/data")!.snapdir, "/tank/data/.zfs/snapshot");
  assert.is(byMp.get("/srv/shared")!.snapdir, "/tank/data/.zfs/snapshot", "a bind mount reads through its dataset's root");
  const fs = (p: string) => engine.hooks.filesystem.call(p);
  assert.is(fs("/etc/hosts"), "/");
  assert.is(fs("/home/alice/.bashrc"), "/home/alice");
  assert.is(fs("/tank/data/projects/x/y"), "/tank/data/projects");
  assert.is(fs("/tank/data/cache/tmp"), undefined);
  assert.is(fs("/mnt/legacy/f"), "/mnt/legacy");
  assert.is(fs("/proc/1/stat"), undefined);
  assert.is(fs("/dev/null"), undefined);
});

test("reads through .zfs/snapshot: no clone, paths for the root dataset and a bind mount", async ({ dir }) => {
  const { engine, fake } = setup(dir);
  await engine.hooks.initialize.promise();
  fake.calls.length = 0;
  const data = await snapshotOf(engine, "/tank/data");
  const short = data.name.split("@")[1]!;
  assert.equal(fake.commandLines, [`snapshot tank/data@${short}`]);
  assert.is(data.clone, undefined);
  assert.is(data.pathOf("/tank/data/a/b.txt"), `/tank/data/.zfs/snapshot/${short}/a/b.txt`);
  const root = await snapshotOf(engine, "/");
  assert.is(root.pathOf("/etc/hosts"), `/.zfs/snapshot/${root.name.split("@")[1]}/etc/hosts`);
  assert.match(root.name, /^rpool\/ROOT\/ubuntu_abc123@rtb-/);
  const shared = await snapshotOf(engine, "/srv/shared");
  assert.is(shared.pathOf("/srv/shared/x"), `/tank/data/.zfs/snapshot/${shared.name.split("@")[1]}/shared/x`);
  fake.calls.length = 0;
  await data.release();
  assert.equal(fake.commandLines, [`destroy tank/data@${short}`]);
  await root.release();
  await shared.release();
});

test("a snapshot that does not appear under .zfs/snapshot fails and is destroyed", async ({ dir }) => {
  const { engine, fake } = setup(dir, {
    pathExists: async (p: string) => p.endsWith("/.zfs/snapshot"),
  });
  await engine.hooks.initialize.promise();
  const err = await engine.hooks.snapshot.promise({ filesystem: "/tank/data", paths: [] }).catch((e) => e);
  assert.match(String(err), /does not appear at \/tank\/data\/\.zfs\/snapshot\/rtb-/);
  assert.not.ok(fake.snapshots.some((s) => s.startsWith(`tank/data@rtb-${HOST}-${process.pid}`)));
});

test("access: clone forces clones on OpenZFS too", async ({ dir }) => {
  const { engine, fake } = setup(dir, { access: "clone" });
  await engine.hooks.initialize.promise();
  const s = await snapshotOf(engine, "/tank/data/projects");
  const short = s.name.split("@")[1]!;
  assert.equal(s.clone, { dataset: `tank/data/${short}`, mountpoint: join(dir, "clones", short) });
  assert.ok(fake.commandLines.includes(`clone -o readonly=on -o mountpoint=${join(dir, "clones", short)} ${s.name} tank/data/${short}`));
  await s.release();
});

test("stale cleanup: our crashed agent's clone and snapshots, another host's; never a live agent's, a mark or anyone else's", async ({ dir }) => {
  const { engine, fake, plugin } = setup(dir);
  await engine.hooks.initialize.promise();
  assert.equal(plugin.staleCleanup!.destroyed, [
    "tank/rtb-0a1b2c3d-4242-20200101T000000000Z-3",
    "tank/data@rtb-0a1b2c3d-4242-20200101T000000000Z-3",
    "tank/data@rtb-0a1b2c3d-4242-20200101T000000000Z-4",
    "tank/data/projects@rtb-0a1b2c3d-4242-20200101T000000000Z-5",
    "tank/data/projects@rtb-99999999-4242-20200101T000000000Z-1",
  ]);
  assert.equal(fake.snapshots, [
    "rpool/USERDATA/alice_x1@daily",
    "tank/data@manual",
    "tank/data/projects@rtb-0a1b2c3d-1111-20200101T000000000Z-1",
    "tank/data@rtb-mark-0a1b2c3d-20200101T000000000Z",
    "tank/data@rtbx-0a1b2c3d-4242-20200101T000000000Z-1",
    "tank/data@rtb-0a1b2c3d-4242-20200101T000000000Z-x",
    "tank@zfs-auto-snap_hourly-2020-01-01-0000",
  ]);
  assert.ok(fake.rows.some((r) => r.name === "tank/other-clone"));
});

test("a stale snapshot that cannot be destroyed is logged, and start-up goes on", async ({ dir }) => {
  const { engine, fake, plugin, logs } = setup(dir);
  fake.fail((a) => a[0] === "destroy" && a[1] === "tank/data@rtb-0a1b2c3d-4242-20200101T000000000Z-4", "cannot destroy: pool I/O is currently suspended");
  await engine.hooks.initialize.promise();
  assert.equal(plugin.staleCleanup!.failed, ["tank/data@rtb-0a1b2c3d-4242-20200101T000000000Z-4"]);
  assert.ok(logs.some((l) => l.startsWith("warn") && l.includes("suspended")));
});

test("marks and zfs diff: exact changes since a mark", async ({ dir }) => {
  const { engine, fake, plugin } = setup(dir);
  await engine.hooks.initialize.promise();
  assert.equal(await plugin.changes.diffSupport(), { supported: true });
  const marks = await plugin.changes.listMarks();
  assert.equal(
    marks.map((m) => [m.name, m.filesystem]),
    [["tank/data@rtb-mark-0a1b2c3d-20200101T000000000Z", "/tank/data"]],
  );
  const mark = await plugin.changes.createMark("/tank/data");
  assert.match(mark.name, /^tank\/data@rtb-mark-0a1b2c3d-\d{8}T\d{9}Z$/);
  assert.ok(fake.snapshots.includes(mark.name));
  fake.diffOutput = fixture("openzfs/diff.txt");
  fake.calls.length = 0;
  const changes = await plugin.changes.changesSince(mark);
  assert.equal(fake.commandLines, [`diff -F -H ${mark.name} tank/data`]);
  assert.ok(changes.supported);
  if (!changes.supported) return;
  assert.ok(changes.events.some((e) => e.type === "update" && e.path === "/tank/data/new file.txt"));
  assert.ok(changes.events.some((e) => e.type === "delete" && e.path === "/tank/data/old.txt"));
  await plugin.changes.dropMark(mark);
  assert.not.ok(fake.snapshots.includes(mark.name));
  await plugin.changes.dropMark(marks[0]!);
  await plugin.changes.dropMark("tank/data@manual").then(
    () => assert.unreachable("refused"),
    (e: Error) => assert.match(e.message, /not a mark of this agent/),
  );
  assert.ok(fake.snapshots.includes("tank/data@manual"));
  const gone = await plugin.changes.changesSince(mark).catch((e) => e);
  assert.is(gone.reason, "not-found");
  await engine.hooks.shutdown.promise();
});

test("a dataset never mounted while we ran does not claim its mountpoint: not ours, no error", async ({ dir }) => {
  const { engine, fake } = setup(dir);
  await engine.hooks.initialize.promise();
  assert.is(await engine.hooks.snapshot.promise({ filesystem: "/tank/offline", paths: [] }), undefined);
  fake.unmount("/tank/data/projects");
  const err = await engine.hooks.snapshot.promise({ filesystem: "/tank/data/projects", paths: [] }).catch((e) => e);
  assert.match(String(err), /not mounted there now/);
});

test.run();
