// Integration tests on real ZFS: Debian's zfs-fuse, a pool on a file vdev created here (unique name), nested
// datasets. The harness installs zfs-fuse if missing, starts its daemon if needed, and undoes all of it in `after`.
// Every plugin here uses a prefix unique to this process, so nothing of anyone else is ever touched.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { chmod, mkdir, readFile, stat, unlink, writeFile, appendFile, open } from "node:fs/promises";
import { join } from "node:path";
import { PluginError } from "@rtbackup/core";
import { ZfsError, ZfsSnapshotPlugin, hostTag, type ZfsSnapshot } from "@rtbackup/plugin-zfs";
import { engineWith } from "./helpers/engine.js";
import { createTestPool, ensureZfsFuse, must, sh, type TestPool, type ZfsFuse } from "./helpers/zfsFuse.js";

interface Ctx {
  z: ZfsFuse | undefined;
  pool: TestPool | undefined;
  data: string;
  inner: string;
}
const test = suite<Ctx>("zfs-fuse integration", { z: undefined, pool: undefined, data: "", inner: "" });
const PREFIX = `it${process.pid}`;
let plugins = 0;

test.before(async (ctx) => {
  ctx.z = await ensureZfsFuse();
  ctx.pool = await createTestPool(ctx.z);
  await must(ctx.z.zfs, ["create", `${ctx.pool.name}/data`]);
  await must(ctx.z.zfs, ["create", `${ctx.pool.name}/data/inner`]);
  ctx.data = join(ctx.pool.mountpoint, "data");
  ctx.inner = join(ctx.data, "inner");
});

test.after(async (ctx) => {
  try {
    await ctx.pool?.destroy();
  } finally {
    await ctx.z?.stop();
  }
});

function plugin(ctx: Ctx, extra: Record<string, unknown> = {}) {
  plugins += 1;
  const p = new ZfsSnapshotPlugin({
    snapshotPrefix: PREFIX,
    cloneDirectory: join(ctx.pool!.dir, `clones${plugins}`),
    ...extra,
  });
  const { engine, logs } = engineWith(p, { zfsBinaryPath: ctx.z!.zfs });
  return { plugin: p, engine, logs };
}

async function ourSnapshots(ctx: Ctx): Promise<string[]> {
  const out = await must(ctx.z!.zfs, ["list", "-H", "-o", "name", "-t", "snapshot"]);
  return out.split("\n").filter((n) => n.startsWith(`${ctx.pool!.name}/`) || n.startsWith(`${ctx.pool!.name}@`));
}

async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile("/proc/self/mountinfo", "utf8");
  return text.split("\n").filter((l) => l.split(" ")[4]?.startsWith(dir));
}

test("one snapshot shared by a batch; a file changed afterwards reads as it was; gone after release", async (ctx) => {
  const { engine } = plugin(ctx);
  const files = ["a.txt", "b.txt", "sub/c.txt"].map((f) => join(ctx.data, f));
  await mkdir(join(ctx.data, "sub"), { recursive: true });
  for (const f of files) await writeFile(f, `v1 of ${f}`);
  try {
    await engine.hooks.initialize.promise();
    assert.is(engine.hooks.filesystem.call(files[0]!), ctx.data);
    assert.is(engine.hooks.filesystem.call(join(ctx.inner, "x")), ctx.inner);
    const s = (await engine.hooks.snapshot.promise({ filesystem: ctx.data, paths: files })) as ZfsSnapshot;
    assert.ok(s);
    await writeFile(files[0]!, "v2, written after the snapshot");
    await appendFile(files[1]!, " and more");
    await unlink(files[2]!);
    for (const f of files) assert.is(await readFile(s.pathOf(f), "utf8"), `v1 of ${f}`);
    assert.is(await readFile(files[0]!, "utf8"), "v2, written after the snapshot");
    assert.equal(await ourSnapshots(ctx), [s.name], "one snapshot for the whole batch");
    assert.ok(s.clone, "zfs-fuse has no .zfs: read through a clone");
    await s.release();
    assert.equal(await ourSnapshots(ctx), []);
    assert.equal(await mountsUnder(s.clone!.mountpoint), []);
    await stat(s.clone!.mountpoint).then(
      () => assert.unreachable("clone directory removed"),
      (e: NodeJS.ErrnoException) => assert.is(e.code, "ENOENT"),
    );
    const list = await must(ctx.z!.zfs, ["list", "-H", "-o", "name", "-t", "filesystem"]);
    assert.not.ok(list.includes(s.clone!.dataset));
  } finally {
    await engine.hooks.shutdown.promise();
  }
});

test("the clone access path: a read-only fuse.zfs mount in the private clone directory", async (ctx) => {
  const { engine, plugin: p } = plugin(ctx);
  await writeFile(join(ctx.data, "ro.txt"), "content");
  try {
    await engine.hooks.initialize.promise();
    const s = (await engine.hooks.snapshot.promise({ filesystem: ctx.data, paths: [] })) as ZfsSnapshot;
    const where = s.pathOf(join(ctx.data, "ro.txt"));
    assert.ok(where.startsWith(`${join(ctx.pool!.dir, `clones${plugins}`)}/`), where);
    const [line] = await mountsUnder(s.clone!.mountpoint);
    assert.ok(line, "the clone is mounted");
    assert.match(line!, / - fuse\.zfs /);
    assert.ok(line!.includes(s.clone!.dataset));
    await writeFile(join(s.clone!.mountpoint, "new.txt"), "x").then(
      () => assert.unreachable("the clone is read-only"),
      (e: NodeJS.ErrnoException) => assert.is(e.code, "EROFS"),
    );
    const mode = (await stat(join(ctx.pool!.dir, `clones${plugins}`))).mode & 0o777;
    assert.is(mode, 0o700, "the clone directory is private");
    assert.equal(p.liveSnapshots, 1);
  } finally {
    await engine.hooks.shutdown.promise();
  }
  assert.equal(await ourSnapshots(ctx), [], "shutdown released it");
});

test("nested datasets: each path maps to its deepest dataset; a parent's snapshot does not hold the child's files", async (ctx) => {
  const { engine } = plugin(ctx);
  const x = join(ctx.inner, "x.txt");
  await writeFile(x, "inner file");
  try {
    await engine.hooks.initialize.promise();
    assert.is(engine.hooks.filesystem.call(x), ctx.inner);
    const outer = (await engine.hooks.snapshot.promise({ filesystem: ctx.data, paths: [] })) as ZfsSnapshot;
    const inner = (await engine.hooks.snapshot.promise({ filesystem: ctx.inner, paths: [x] })) as ZfsSnapshot;
    assert.match(inner.name, new RegExp(`^${ctx.pool!.name}/data/inner@${PREFIX}-`));
    assert.is(await readFile(inner.pathOf(x), "utf8"), "inner file");
    assert.throws(
      () => outer.pathOf(x),
      (e: unknown) => e instanceof ZfsError && e.reason === "not-mounted",
    );
    await outer.release();
    await inner.release();
  } finally {
    await engine.hooks.shutdown.promise();
  }
});

test("release waits out 'busy' while a file in the clone is open, and finishes later", async (ctx) => {
  const { engine, plugin: p } = plugin(ctx, { busyRetryTime: 300 });
  const f = join(ctx.data, "held.txt");
  await writeFile(f, "held");
  try {
    await engine.hooks.initialize.promise();
    const s = (await engine.hooks.snapshot.promise({ filesystem: ctx.data, paths: [f] })) as ZfsSnapshot;
    const handle = await open(s.pathOf(f), "r");
    try {
      await s.release();
      assert.is(p.pendingReleases, 1, "the clone is busy while a file in it is open");
      assert.equal(await ourSnapshots(ctx), [s.name]);
    } finally {
      await handle.close();
    }
    await engine.hooks.shutdown.promise();
    assert.is(p.pendingReleases, 0);
    assert.equal(await ourSnapshots(ctx), []);
  } finally {
    await engine.hooks.shutdown.promise();
  }
});

test("start-up cleanup destroys only our own stale snapshot and clone", async (ctx) => {
  const z = ctx.z!;
  const ds = `${ctx.pool!.name}/data`;
  const stale = `${PREFIX}-${hostTag()}-${process.pid}-20000101T000000000Z-1`;
  const live = `${PREFIX}-${hostTag()}-${process.pid}-${new Date().toISOString().replace(/[-:]/g, "").replace(".", "")}-99`;
  const foreign = [`${ds}@foreign`, `${ds}@rtb-manual`, `${ds}@${PREFIX}x-${hostTag()}-1-20000101T000000000Z-1`];
  await must(z.zfs, ["snapshot", `${ds}@${stale}`]);
  await must(z.zfs, ["clone", "-o", `mountpoint=${join(ctx.pool!.dir, "staleclone")}`, `${ds}@${stale}`, `${ctx.pool!.name}/${stale}`]);
  await must(z.zfs, ["snapshot", `${ds}@${live}`]);
  for (const f of foreign) await must(z.zfs, ["snapshot", f]);
  const { engine, plugin: p } = plugin(ctx);
  try {
    await engine.hooks.initialize.promise();
    assert.equal(p.staleCleanup!.destroyed, [`${ctx.pool!.name}/${stale}`, `${ds}@${stale}`]);
    const left = await ourSnapshots(ctx);
    assert.equal(left.sort(), [`${ds}@${live}`, ...foreign].sort());
  } finally {
    await engine.hooks.shutdown.promise();
    for (const s of [`${ds}@${live}`, ...foreign]) await sh(z.zfs, ["destroy", s]);
  }
});

test("a failing zfs (wrapper exits 1 for snapshot) is SNAPSHOT_FAILED with its stderr; the retry succeeds", async (ctx) => {
  const wrapper = join(ctx.pool!.dir, "zfs-wrapper");
  const failFlag = join(ctx.pool!.dir, "fail-snapshots");
  await writeFile(
    wrapper,
    `#!/bin/sh\nif [ "$1" = snapshot ] && [ -e '${failFlag}' ]; then echo "wrapper: refusing to snapshot $2" >&2; exit 1; fi\nexec '${ctx.z!.zfs}' "$@"\n`,
  );
  await chmod(wrapper, 0o755);
  await writeFile(failFlag, "");
  const { engine } = plugin(ctx, { zfsBinaryPath: wrapper });
  try {
    await engine.hooks.initialize.promise();
    const err = await engine.hooks.snapshot.promise({ filesystem: ctx.data, paths: [join(ctx.data, "a.txt")] }).catch((e) => e);
    assert.instance(err, PluginError);
    const cause = (err as PluginError).cause as ZfsError;
    assert.instance(cause, ZfsError);
    assert.is(cause.code, "SNAPSHOT_FAILED");
    assert.is(cause.exitCode, 1);
    assert.match(cause.stderr!, new RegExp(`^wrapper: refusing to snapshot ${ctx.pool!.name}/data@${PREFIX}-`));
    assert.ok(cause.command!.startsWith(`${wrapper} snapshot ${ctx.pool!.name}/data@`));
    assert.equal(await ourSnapshots(ctx), []);
    await unlink(failFlag);
    const s = (await engine.hooks.snapshot.promise({ filesystem: ctx.data, paths: [] })) as ZfsSnapshot;
    assert.ok(s, "the batch's retry gets its snapshot");
    await s.release();
  } finally {
    await engine.hooks.shutdown.promise();
  }
});

test("a full pool is SNAPSHOT_FAILED with reason no-space", async (ctx) => {
  const small = await createTestPool(ctx.z!, 64);
  const { engine } = plugin(ctx);
  try {
    const chunk = Buffer.alloc(1 << 20, 7);
    const fh = await open(join(small.mountpoint, "fill"), "w");
    try {
      for (let i = 0; i < 128; i++) await fh.write(chunk);
    } catch (err) {
      assert.is((err as NodeJS.ErrnoException).code, "ENOSPC");
    } finally {
      await fh.close().catch(() => undefined);
    }
    await engine.hooks.initialize.promise();
    const err = await engine.hooks.snapshot.promise({ filesystem: small.mountpoint, paths: [] }).catch((e) => e);
    const cause = (err as PluginError).cause as ZfsError;
    assert.is(cause?.reason, "no-space", String(err));
    assert.match(cause.stderr!, /out of space/);
  } finally {
    await engine.hooks.shutdown.promise();
    await small.destroy();
  }
});

test("zfs diff is absent on zfs-fuse: reported, so the engine rescans", async (ctx) => {
  const { engine, plugin: p } = plugin(ctx);
  try {
    await engine.hooks.initialize.promise();
    const support = await p.changes.diffSupport();
    assert.equal(support.supported, false);
    const mark = await p.changes.createMark(ctx.data);
    assert.equal(
      (await p.changes.listMarks()).map((m) => m.name).filter((n) => n.startsWith(ctx.pool!.name)),
      [mark.name],
    );
    assert.is((await p.changes.changesSince(mark)).supported, false);
    await p.changes.dropMark(mark);
    assert.equal(await ourSnapshots(ctx), []);
  } finally {
    await engine.hooks.shutdown.promise();
  }
});

test.run();
