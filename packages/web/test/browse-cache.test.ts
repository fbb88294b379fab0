// The cache of trees: which asks a tree already read answers (its own moment up to the moment asked, "now" while
// fresh), which read again; at most two kept; concurrent asks share a read; a failed read is not kept.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { TreeView } from "@rtbackup/core";
import { TreeCache } from "../dist/browse/TreeCache.js";

/** Commits at these times (ms); a tree as of `at` has the time of the last one at or before it. */
const COMMITS = [100, 500, 900];

function fixture(options: { fail?: boolean } = {}) {
  const clock = { now: 1000 };
  const loads: number[] = [];
  const cache = new TreeCache(
    async (at) => {
      loads.push(at);
      if (options.fail) throw new Error(`cannot read the tree as of ${at}`);
      const time = COMMITS.filter((t) => t <= at).at(-1) ?? 0;
      return { entries: new Map(), sequence: 0, time, batchesRead: 0, damage: [], chunks: { getChunk: async () => Buffer.alloc(0) } } as TreeView;
    },
    { freshMs: 10_000, now: () => clock.now },
  );
  return { clock, loads, cache };
}

test("a tree answers from its own moment to the moment asked; now while fresh; two are kept", async () => {
  const { clock, loads, cache } = fixture();
  // [ask (undefined: now), the clock then, the tree's time, the loads so far]
  const steps: [number | undefined, number, number, number[]][] = [
    [undefined, 1000, 900, [1000]],
    [undefined, 1005, 900, [1000]],
    [900, 1006, 900, [1000]],
    [950, 1007, 900, [1000]],
    [500, 1008, 500, [1000, 500]],
    [500, 1009, 500, [1000, 500]],
    // 700 is after the 500-tree was asked for: read again (it could hold a commit between).
    [700, 1010, 500, [1000, 500, 700]],
    // Three read, two kept: the now-tree (least recently used) was dropped, so now is read again.
    [undefined, 1011, 900, [1000, 500, 700, 1011]],
    // Now, once no longer fresh: read again.
    [undefined, 20_000, 900, [1000, 500, 700, 1011, 20_000]],
    [2000, 20_001, 900, [1000, 500, 700, 1011, 20_000]],
  ];
  for (const [at, now, time, expected] of steps) {
    clock.now = now;
    const tree = await cache.get(at);
    assert.is(tree.time, time, `ask ${at} at ${now}`);
    assert.equal(loads, expected, `ask ${at} at ${now}`);
  }
});

test("concurrent asks share one read; a failed read is read again next time", async () => {
  const shared = fixture();
  const [a, b] = await Promise.all([shared.cache.get(300), shared.cache.get(300)]);
  assert.ok(a === b);
  assert.equal(shared.loads, [300]);
  const failing = fixture({ fail: true });
  for (let i = 1; i <= 2; i++) {
    await failing.cache.get(300).then(
      () => assert.unreachable("the read should fail"),
      (err: Error) => assert.match(err.message, /as of 300/),
    );
    assert.is(failing.loads.length, i);
  }
});

test.run();
