import { suite } from "uvu";
import * as assert from "uvu/assert";
import { StorageError } from "@rtbackup/core";
import { RawB2 } from "./helpers/rawB2.js";
import { startEmulatorBackend, TEST_SIZES } from "./helpers/emulatorBackend.js";
import { bytes, getAll, listKeys } from "./helpers/treeData.js";

const test = suite("B2Storage deletes and the no-delete key");

test("delete removes every version of an object, and only that object", async () => {
  const env = await startEmulatorBackend();
  try {
    await env.backend.put("k", Buffer.from("one"), 3);
    await env.backend.put("k", Buffer.from("two"), 3);
    await env.backend.put("k2", Buffer.from("keep"), 4);
    await env.backend.delete("k");
    const raw = new RawB2(env.emulator);
    await raw.authorize();
    const versions = (await raw.call("b2_list_file_versions", { bucketId: env.emulator.bucketId })).json.files;
    assert.equal(
      versions.map((v: { fileName: string }) => v.fileName),
      ["k2"],
    );
    await env.backend.delete("k");
  } finally {
    await env.cleanup();
  }
});

test("a key without deleteFiles backs up and restores; delete fails clearly; hide mode works with it", async () => {
  const env = await startEmulatorBackend();
  try {
    const key = env.emulator.addKey({ capabilities: ["listBuckets", "listFiles", "readFiles", "writeFiles"] });
    const noDelete = env.another({ keyId: key.keyId, applicationKey: key.applicationKey });
    const large = bytes(3 * TEST_SIZES.largeFileChunkSize, 1);
    await noDelete.put("small", Buffer.from("s"), 1);
    await noDelete.put("large", large, large.length);
    assert.equal(await listKeys(noDelete, ""), ["large", "small"]);
    assert.ok((await getAll(noDelete, "large")).equals(large));
    await noDelete.delete("small").then(
      () => assert.unreachable("deleting versions needs deleteFiles"),
      (err) => {
        assert.instance(err, StorageError);
        assert.is((err as StorageError).transient, false);
        assert.match((err as Error).message, /capability/);
      },
    );
    const hiding = env.another({ keyId: key.keyId, applicationKey: key.applicationKey, deleteMode: "hide" });
    await hiding.delete("small");
    await hiding.delete("small");
    await hiding.delete("never-existed");
    assert.is(await hiding.head("small"), undefined);
    assert.equal(await listKeys(hiding, ""), ["large"]);
    const raw = new RawB2(env.emulator);
    await raw.authorize();
    const versions = (await raw.call("b2_list_file_versions", { bucketId: env.emulator.bucketId, prefix: "small" })).json.files;
    assert.equal(
      versions.map((v: { action: string }) => v.action),
      ["hide", "upload"],
      "hiding keeps the data for a prune run",
    );
  } finally {
    await env.cleanup();
  }
});

test.run();
