import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { B2Storage } from "@rtbackup/plugin-b2";
import { B2Emulator, type FaultKind } from "@rtbackup/plugin-b2/emulator";
import { backupThroughEngine, restoreFrom, snapshotTree, treeWorkspace } from "./helpers/engineRun.js";

const test = suite("backup a tree through the engine into B2 (emulated) and restore it from the bucket alone");

async function roundTrip(kinds: FaultKind[], seed: number): Promise<void> {
  const emulator = new B2Emulator({ absoluteMinimumPartSize: 50_000, seed });
  await emulator.start();
  const ws = await treeWorkspace(24, 2, 600_000);
  const restoreBackend = new B2Storage({ ...emulator.credentials, bucketId: emulator.bucketId, authorizeUrl: emulator.authorizeUrl, owner: "restore" });
  try {
    emulator.setFaults({ rate: 0.1, kinds, slowMs: 2000, retryAfterSeconds: 1 });
    const scan = await backupThroughEngine(ws, emulator, { backoffBaseMs: 10, backoffMaxMs: 200, requestTimeoutMs: 800, maxAttempts: 12 });
    assert.ok(scan.changed >= 26, `queued ${scan.changed}`);
    assert.ok(
      emulator.log.some((e) => e.api === "b2_start_large_file" && e.status === 200),
      "the large-file API was used",
    );
    const result = await restoreFrom(restoreBackend, ws);
    assert.is(result.errors, 0);
    assert.equal(await snapshotTree(join(ws.out, ws.src.slice(1))), await snapshotTree(ws.src), "restored byte-identical");
    assert.ok(
      emulator.log.some((e) => e.fault !== null),
      "faults were injected",
    );
    assert.equal(emulator.violations, []);
  } finally {
    await restoreBackend.close();
    await emulator.stop();
    await ws.cleanup();
  }
}

for (const [i, kind] of (["503", "429", "401", "reset", "slow"] as const).entries()) {
  test(`10% of calls fail with ${kind}`, () => roundTrip([kind], 20 + i));
}

test.run();
