import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { FaultKind } from "@rtbackup/plugin-b2/emulator";
import type { B2StorageStats } from "@rtbackup/plugin-b2";
import { sha256, startEmulatorBackend, TEST_SIZES } from "./helpers/emulatorBackend.js";
import { getAll, listKeys, makeTree, mapLimit, streamOf } from "./helpers/treeData.js";

const test = suite("B2Storage with 10% of calls failing");

/**
 * Backs up a tree of small and large files (half as buffers, half as streams, four uploads at a time) and restores
 * it, with `rate` of all calls failing in the given ways. Returns what the backend counted.
 */
async function backupAndRestore(kinds: FaultKind[], seed: number, rate = 0.1): Promise<{ stats: B2StorageStats; injected: Set<string> }> {
  const env = await startEmulatorBackend({ seed, faults: { rate, kinds, slowMs: 2000, retryAfterSeconds: 1 } }, { requestTimeoutMs: 800, maxAttempts: 12 });
  try {
    const tree = makeTree("tree/", 16, 3, 3 * TEST_SIZES.largeFileChunkSize);
    await mapLimit(tree, 4, (f, i) => env.backend.put(f.key, i % 2 ? f.data : streamOf(f.data), f.data.length));
    const expected = tree.map((f) => f.key).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    assert.equal(await listKeys(env.backend, "tree/"), expected, "the listing holds exactly the tree");
    await mapLimit(tree, 4, async (f) => {
      const back = await getAll(env.backend, f.key);
      assert.is(back.length, f.data.length, `${f.key}: length`);
      assert.is(sha256(back), sha256(f.data), `${f.key}: content`);
    });
    assert.equal(env.emulator.violations, [], "no upload URL was shared or reused after a rejection");
    assert.equal(
      env.emulator.files().map((f) => f.fileName),
      expected,
      "B2 holds exactly the tree (no stray visible object)",
    );
    const injected = new Set(env.emulator.log.filter((e) => e.fault).map((e) => e.fault!));
    return { stats: env.backend.stats, injected };
  } finally {
    await env.cleanup();
  }
}

test("503 service_unavailable: new upload URL / backoff, tree restored byte-identical", async () => {
  const { stats, injected } = await backupAndRestore(["503"], 11);
  assert.ok(injected.has("503"));
  assert.ok(stats.retries.server > 0, "server errors were retried");
});

test("429 with Retry-After: calls wait, tree restored byte-identical", async () => {
  const { stats, injected } = await backupAndRestore(["429"], 12);
  assert.ok(injected.has("429"));
  assert.ok(stats.retries.throttled > 0, "throttled calls were retried");
  assert.ok(stats.throttledMs >= 900, `waited for Retry-After (${stats.throttledMs} ms)`);
});

test("401 expired token: re-authorize / new upload URL, tree restored byte-identical", async () => {
  const { stats, injected } = await backupAndRestore(["401"], 13);
  assert.ok(injected.has("401"));
  assert.ok(stats.retries.auth > 0, "expired tokens were recovered");
});

test("connection reset mid-body: uploads retried, downloads resumed, tree restored byte-identical", async () => {
  const { stats, injected } = await backupAndRestore(["reset"], 14);
  assert.ok(injected.has("reset"));
  assert.ok(stats.retries.network > 0, "broken connections were retried");
});

test("slow responses past the timeout: retried, tree restored byte-identical", async () => {
  const { stats, injected } = await backupAndRestore(["slow"], 15);
  assert.ok(injected.has("slow"));
  assert.ok(stats.retries.timeout > 0, "timed-out calls were retried");
});

test("all kinds at once (25% of calls, including 500 and 408): tree restored byte-identical", async () => {
  const { injected } = await backupAndRestore(["503", "500", "408", "429", "401", "reset", "slow"], 16, 0.25);
  assert.ok(injected.size >= 5, `several kinds were injected: ${[...injected].join(", ")}`);
});

test.run();
