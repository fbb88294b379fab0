import { test } from "uvu";
import * as assert from "uvu/assert";
import { createLogRoot, ManualClock, silentSink, type ChangeEvent } from "@rtbackup/core";
import { fdRescanInterval, FdPeriodicRescan, GroupWatch, RescanCoalescer } from "@rtbackup/plugin-fanotify";

const logger = createLogRoot({ sink: silentSink })("test");

test("rescan coalescer: a burst of lost events becomes one minimal set, 1 s after the burst, at most 10 s after the first", async () => {
  const clock = new ManualClock();
  const emitted: ChangeEvent[][] = [];
  const c = new RescanCoalescer({ quietMs: 1000, maxDelayMs: 10_000, emit: (e) => emitted.push(e), clock });
  c.add("/m/a/b", "dir");
  c.add("/m/a/b/c", "dir");
  c.add("/m/x", "dir");
  c.add("/m/a", "dir");
  await clock.advance(999);
  assert.equal(emitted, [], "nothing while the burst goes on");
  await clock.advance(1);
  assert.equal(emitted, [
    [
      { type: "rescan", path: "/m/x", reason: "dir" },
      { type: "rescan", path: "/m/a", reason: "dir" },
    ],
  ]);
  // A source losing an event every 500 ms still gets its rescan 10 s after the first loss.
  emitted.length = 0;
  for (let i = 0; i < 30 && emitted.length === 0; i++) {
    c.add("/m", "lost");
    await clock.advance(500);
  }
  assert.equal(emitted, [[{ type: "rescan", path: "/m", reason: "lost" }]]);
  assert.is(clock.now() - 1_700_000_000_000, 1000 + 10_000);
  assert.equal([c.requested, c.emitted], [4 + 20, 3]);
});

test("group watch: re-creates at once, then backs off 1 s, 2 s, 4 s ... 60 s until it works, and resets after", async () => {
  const clock = new ManualClock();
  const attempts: number[] = [];
  let failUntil = 0;
  let recovered = 0;
  const watch = new GroupWatch({
    name: "fd",
    logger,
    clock,
    recreate: () => {
      attempts.push(clock.now() - 1_700_000_000_000);
      if (attempts.length <= failUntil) throw new Error("EMFILE");
    },
    recovered: () => recovered++,
  });
  failUntil = 9;
  watch.lost();
  assert.ok(watch.pending);
  for (let i = 0; i < 400 && recovered === 0; i++) await clock.advance(1000);
  const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
  assert.equal(gaps, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  assert.equal([recovered, watch.recreated, watch.pending], [1, 1, false]);
  attempts.length = 0;
  failUntil = 1;
  watch.lost();
  await clock.advance(1000);
  assert.equal(attempts.length, 2, "the backoff starts again at 1 s");
  watch.close();
});

test("fd-mode periodic rescan: 100 x the last scan of the mount, clamped to 2 min .. 1 h, never over PeriodicRescanInterval", async () => {
  const H = 3_600_000;
  assert.equal(
    [undefined, 100, 5_000, 60_000].map((ms) => fdRescanInterval(ms, 120_000, H, 6 * H)),
    [120_000, 120_000, 500_000, H],
  );
  assert.is(fdRescanInterval(60_000, 120_000, H, 600_000), 600_000);
  const clock = new ManualClock();
  const rescans: string[] = [];
  const p = new FdPeriodicRescan({
    mountPoints: () => ["/m"],
    minMs: 120_000,
    maxMs: H,
    periodicMs: 6 * H,
    rescan: (m) => rescans.push(m),
    clock,
  });
  p.start();
  p.observe({ reason: "startup", roots: ["/m/root"], done: false });
  await clock.advance(10);
  p.observe({ reason: "startup", roots: ["/m/root"], done: true });
  assert.is(p.intervalMs, 120_000, "a directory's scan says nothing about the mount");
  p.observe({ reason: "startup", roots: ["/"], done: false });
  await clock.advance(3_000);
  p.observe({ reason: "startup", roots: ["/"], done: true });
  assert.is(p.intervalMs, 300_000);
  await clock.advance(299_999);
  assert.equal(rescans, []);
  await clock.advance(1);
  assert.equal(rescans, ["/m"]);
  p.stop();
});

test.run();
