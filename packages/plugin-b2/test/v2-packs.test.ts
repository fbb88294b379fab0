// Format v2's packs on B2 (the emulator counts transactions): a thousand small files' blobs cost a few uploads, not a
// thousand, and one blob comes back with one ranged download.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { B2Storage } from "@rtbackup/plugin-b2";
import { B2Emulator } from "@rtbackup/plugin-b2/emulator";
import { PackStore } from "@rtbackup/core/v2";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

test("1,000 small blobs: at most 20 class A transactions to store, 1 class B download to read one back", async () => {
  const emulator = new B2Emulator();
  await emulator.start();
  const storage = new B2Storage({ ...emulator.credentials, bucketId: emulator.bucketId, authorizeUrl: emulator.authorizeUrl });
  try {
    const packs = new PackStore(storage, { packSize: 16 * 1024 * 1024 });
    const blobs = Array.from({ length: 1000 }, (_, i) => randomBytes(1024 + ((i * 7919) % (15 * 1024))));
    const before = emulator.lastSeq;
    for (const b of blobs) await packs.add(sha(b), b);
    const stored = await packs.flush();
    const backup = emulator.counts(before);
    assert.is(stored.length, 1000);
    assert.ok(backup.billed.A <= 20, `class A for 1,000 blobs: ${backup.billed.A}`);
    assert.is(backup.byApi.b2_list_file_names, undefined, "no listing while storing");
    assert.ok(backup.billed.C <= 2, `class C: ${backup.billed.C} (the authorization and the start-up sweep of unfinished large files)`);
    const one = stored[567]!;
    const readAt = emulator.lastSeq;
    assert.ok((await packs.read(one)).equals(blobs[567]!));
    const read = emulator.counts(readAt);
    assert.equal(read.calls, { A: 0, B: 1, C: 0 }, "one ranged download");
    assert.is(read.byApi.b2_download_file_by_name, 1);
  } finally {
    await storage.close?.();
    await emulator.stop();
  }
});

test.run();
