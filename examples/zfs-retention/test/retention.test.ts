import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, Engine, ManualClock, silentSink } from "@rtbackup/core";
import { ZfsRetention, ZfsRetentionPlugin, selectRetained, spawnExec, type RetentionResult } from "@rtbackup/example-zfs-retention";
import { FakeZfs } from "./helpers/fakeZfs.js";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
// Monday 2026-01-05 00:00 UTC.
const MONDAY = Date.UTC(2026, 0, 5);
const name = (ms: number) =>
  `rtb-auto-${new Date(ms)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace("T", "-")
    .replace(/\.\d+Z$/, "Z")}`;

test("selectRetained keeps the newest N, and the first snapshot of each of the newest hours, days and weeks", () => {
  const snaps = [];
  // Every 15 minutes for 20 days.
  for (let t = MONDAY; t <= MONDAY + 20 * DAY; t += 15 * MIN) snaps.push({ name: String(t), createdAt: t });
  const keep = selectRetained(snaps, { frequent: 3, hourly: 2, daily: 3, weekly: 3 });
  const end = MONDAY + 20 * DAY; // Saturday 2026-01-24 00:00
  const expected = new Set(
    [
      end,
      end - 15 * MIN,
      end - 30 * MIN, // frequent
      end,
      end - HOUR, // hourly: this hour (its first snapshot is `end`), the previous hour's first
      end,
      end - DAY,
      end - 2 * DAY, // daily
      MONDAY + 14 * DAY,
      MONDAY + 7 * DAY,
      MONDAY, // weekly: Mondays 00:00 of the three weeks
    ].map(String),
  );
  assert.equal([...keep].sort(), [...expected].sort());
  assert.equal(selectRetained([], { frequent: 1, hourly: 1, daily: 1, weekly: 1 }), new Set());
  assert.equal(selectRetained(snaps.slice(0, 5), { frequent: 0, hourly: 0, daily: 0, weekly: 0 }), new Set());
});

test("ten days of 15-minute passes against fake zfs leave exactly the policy's snapshots, and never touch others", async () => {
  let now = MONDAY;
  const zfs = new FakeZfs(["tank/home", "tank/db"], () => now);
  zfs.snapshots.set("tank/home@manual-before-upgrade", MONDAY - DAY);
  zfs.snapshots.set("tank/home@rtb-1767570000000", MONDAY - HOUR);
  const retention = new ZfsRetention({
    datasets: ["tank/home", "tank/db"],
    prefix: "rtb-auto",
    keep: { frequent: 4, hourly: 24, daily: 7, weekly: 4 },
    intervalMs: 15 * MIN,
    zfsPath: "/sbin/zfs",
    exec: zfs.exec,
  });
  let last: RetentionResult[] = [];
  for (; now <= MONDAY + 10 * DAY; now += 15 * MIN) {
    last = await retention.tick(now);
    // A second pass in the same minute takes nothing new.
    if (now === MONDAY + 5 * DAY)
      assert.equal(
        (await retention.tick(now + 1000)).map((r) => r.created),
        [undefined, undefined],
      );
  }
  const end = now - 15 * MIN; // Thursday 2026-01-15 00:00
  const expected = new Set<number>();
  for (let i = 0; i < 4; i++) expected.add(end - i * 15 * MIN);
  for (let i = 0; i < 24; i++) expected.add(end - i * HOUR);
  for (let i = 0; i < 7; i++) expected.add(end - i * DAY);
  expected.add(MONDAY + 7 * DAY).add(MONDAY);
  const ours = [...expected].sort((a, b) => a - b).map(name);
  assert.equal(zfs.of("tank/db"), ours);
  assert.equal(zfs.of("tank/home"), ["manual-before-upgrade", "rtb-1767570000000", ...ours]);
  assert.is(last[0]!.created, `tank/home@${name(end)}`);
  assert.is(last[0]!.kept.length, ours.length);
  assert.ok(zfs.calls.every((c) => c[0] === "/sbin/zfs"));
  assert.ok(zfs.calls.filter((c) => c[1] === "destroy").every((c) => c[2]!.includes("@rtb-auto-")));
});

test("a failing dataset does not stop the others, and the error names zfs's complaint", async () => {
  const zfs = new FakeZfs(["tank/a"], () => MONDAY);
  const retention = new ZfsRetention({
    datasets: ["tank/missing", "tank/a"],
    prefix: "rtb-auto",
    keep: { frequent: 1, hourly: 0, daily: 0, weekly: 0 },
    intervalMs: 15 * MIN,
    zfsPath: "zfs",
    exec: zfs.exec,
  });
  await retention.tick(MONDAY).then(
    () => assert.unreachable("should fail"),
    (err: Error) => assert.match(err.message, "dataset does not exist"),
  );
  assert.equal(zfs.of("tank/a"), [name(MONDAY)]);
});

test("the plugin runs a pass at initialize and one per interval on the engine's clock, and stops at shutdown", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-example-zfs-retention-"));
  const clock = new ManualClock(MONDAY);
  const zfs = new FakeZfs(["tank/home"], () => clock.now());
  const passes: RetentionResult[][] = [];
  const engine = new Engine({
    parameters: {
      storage: "local",
      localStoragePath: join(dir, "store"),
      remoteFileStateCachePath: join(dir, "state"),
      backupRoots: [],
      pathFilters: [],
    },
    log: { sink: silentSink },
    plugins: [
      new ZfsRetentionPlugin({
        datasets: ["tank/home"],
        keep: { frequent: 2, hourly: 0, daily: 0, weekly: 0 },
        exec: zfs.exec,
        clock,
        onTick: (r: RetentionResult[]) => passes.push(r),
      }),
    ],
  });
  try {
    await engine.start();
    assert.is(passes.length, 1);
    assert.equal(zfs.of("tank/home"), [name(MONDAY)]);
    await clock.advance(45 * MIN);
    assert.is(passes.length, 4);
    assert.equal(zfs.of("tank/home"), [name(MONDAY + 30 * MIN), name(MONDAY + 45 * MIN)]);
    await engine.stop();
    assert.is(clock.pending, 0);
    await clock.advance(HOUR);
    assert.is(passes.length, 4);
  } finally {
    await engine.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test("the real exec runs a command without a shell and reports its status and output", async () => {
  const exec = spawnExec(5000);
  assert.equal(await exec("/bin/sh", ["-c", 'printf "a\\tb\\n"; echo oops >&2; exit 3', "$(not expanded)"]), {
    exitCode: 3,
    stdout: "a\tb\n",
    stderr: "oops\n",
  });
  await exec("/nonexistent/zfs", []).then(
    () => assert.unreachable("a missing command must reject"),
    (err: NodeJS.ErrnoException) => assert.is(err.code, "ENOENT"),
  );
});

test("options are checked in the constructor, naming the option", () => {
  for (const [options, where] of [
    [undefined, "ZfsRetentionPlugin.options.datasets"],
    [["tank"], "ZfsRetentionPlugin.options"],
    [{}, "ZfsRetentionPlugin.options.datasets"],
    [{ datasets: [] }, "ZfsRetentionPlugin.options.datasets"],
    [{ datasets: ["tank/ok", "/tank/bad"] }, "ZfsRetentionPlugin.options.datasets[1]"],
    [{ datasets: ["tank"], prefix: "bad prefix" }, "ZfsRetentionPlugin.options.prefix"],
    [{ datasets: ["tank"], keep: { hourly: -1 } }, "ZfsRetentionPlugin.options.keep.hourly"],
    [{ datasets: ["tank"], keep: { monthly: 3 } }, "ZfsRetentionPlugin.options.keep.monthly"],
    [{ datasets: ["tank"], keep: { frequent: 0 } }, "ZfsRetentionPlugin.options.keep.frequent"],
    [{ datasets: ["tank"], intervalMs: 1000 }, "ZfsRetentionPlugin.options.intervalMs"],
    [{ datasets: ["tank"], exec: "zfs" }, "ZfsRetentionPlugin.options.exec"],
    [{ datasets: ["tank"], snapshotEvery: 1 }, "ZfsRetentionPlugin.options.snapshotEvery"],
  ] as Array<[unknown, string]>) {
    try {
      new ZfsRetentionPlugin(options);
      assert.unreachable(`accepted ${JSON.stringify(options)}`);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.is((err as ConfigError).where, where);
    }
  }
});

test("an unknown option is refused, naming it and the nearest known one, inside keep too", () => {
  for (const [options, message] of [
    [
      { datasets: ["tank"], intervalMS: 60_000 },
      "ZfsRetentionPlugin.options.intervalMS: unknown option (did you mean intervalMs?); known: datasets, prefix, keep, intervalMs, zfsPath, exec, clock, onTick",
    ],
    [
      { datasets: ["tank"], keep: { dayly: 7 } },
      "ZfsRetentionPlugin.options.keep.dayly: unknown option (did you mean daily?); known: frequent, hourly, daily, weekly",
    ],
  ] as Array<[unknown, string]>) {
    try {
      new ZfsRetentionPlugin(options);
      assert.unreachable(`accepted ${JSON.stringify(options)}`);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.is((err as ConfigError).where, message.slice(0, message.indexOf(":")));
      assert.is((err as Error).message, message);
    }
  }
});

test.run();
