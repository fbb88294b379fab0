import { suite } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError, Engine, PluginError, type Parameters } from "@rtbackup/core";
import { B2Storage, B2StoragePlugin } from "@rtbackup/plugin-b2";
import { B2Emulator } from "@rtbackup/plugin-b2/emulator";
import { TEST_SIZES } from "./helpers/emulatorBackend.js";
import { getAll, listKeys } from "./helpers/treeData.js";

const test = suite("B2StoragePlugin");

function parametersFor(emulator: B2Emulator, extra: Partial<Parameters> = {}): Partial<Parameters> {
  return {
    storage: "b2",
    remoteStorageKeyID: emulator.credentials.keyId,
    remoteStorageApplicationKey: emulator.credentials.applicationKey,
    remoteStorageBucketID: emulator.bucketId,
    b2LargeFileThreshold: TEST_SIZES.largeFileThreshold,
    b2LargeFileChunkSize: TEST_SIZES.largeFileChunkSize,
    ...extra,
  };
}

function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    const inner = err instanceof PluginError ? err.cause : err;
    assert.instance(inner, ConfigError);
    return inner as ConfigError;
  }
  throw new assert.Assertion({ message: "expected a ConfigError", generated: false, operator: "throws", expects: "", actual: "" });
}

test("apply() only taps the storage hook and does no I/O; the backend works through the engine", async () => {
  const emulator = new B2Emulator({ absoluteMinimumPartSize: TEST_SIZES.minimumPartSize });
  await emulator.start();
  const plugin = new B2StoragePlugin({ authorizeUrl: emulator.authorizeUrl, owner: "plugin-test" });
  const engine = new Engine({ parameters: parametersFor(emulator), plugins: [plugin] });
  const backend = engine.resolveStorage();
  try {
    assert.is(plugin.name, "B2StoragePlugin");
    for (const [name, hook] of Object.entries(engine.hooks)) {
      const mine = (hook as unknown as { taps: { name: string }[] }).taps.filter((t) => t.name === "B2StoragePlugin");
      assert.is(mine.length, name === "storage" ? 1 : 0, `taps on ${name}`);
    }
    assert.instance(backend, B2Storage);
    assert.is(backend.description, `b2:${emulator.bucketId}/`);
    assert.is(emulator.log.length, 0, "nothing was sent before the first operation");
    const data = Buffer.alloc(TEST_SIZES.largeFileThreshold + 70_000, 7);
    await backend.put("via/engine", data, data.length);
    assert.ok((await getAll(backend, "via/engine")).equals(data));
    assert.is(emulator.counts().byApi.b2_start_large_file, 1, "B2LargeFileThreshold came from the parameters");
  } finally {
    await backend.close?.();
    await emulator.stop();
  }
});

test("other storage kinds: the plugin supplies nothing", () => {
  const engine = new Engine({ parameters: { storage: "local", localStoragePath: "/nonexistent/store" }, plugins: [new B2StoragePlugin()] });
  assert.not.instance(engine.resolveStorage(), B2Storage);
});

test("plugin options are validated in the constructor, naming the option", () => {
  const cases: [unknown, string][] = [
    [{ partConcurency: 3 }, "B2StoragePlugin.options.partConcurency"],
    [{ partConcurrency: 0 }, "B2StoragePlugin.options.partConcurrency"],
    [{ deleteMode: "trash" }, "B2StoragePlugin.options.deleteMode"],
    [{ listPageSize: 20_000 }, "B2StoragePlugin.options.listPageSize"],
    [{ authorizeUrl: "ftp://example.com/x" }, "B2StoragePlugin.options.authorizeUrl"],
    [{ namePrefix: "/absolute" }, "B2StoragePlugin.options.namePrefix"],
    [{ largeFileThreshold: 6_000_000_000 }, "B2StoragePlugin.options.largeFileThreshold"],
    [[], "B2StoragePlugin.options"],
  ];
  for (const [options, where] of cases) assert.is(configErrorOf(() => new B2StoragePlugin(options)).where, where);
});

test("unset or bad parameters name the XML element", () => {
  const unset = new Engine({ parameters: { storage: "b2" }, plugins: [new B2StoragePlugin()] });
  assert.is(configErrorOf(() => unset.resolveStorage()).where, "RemoteStorageKeyID");
  const emulator = new B2Emulator();
  const badChunk = new Engine({ parameters: parametersFor(emulator, { b2LargeFileChunkSize: 0 }), plugins: [new B2StoragePlugin()] });
  assert.is(configErrorOf(() => badChunk.resolveStorage()).where, "B2LargeFileChunkSize");
  const overridden = new Engine({
    parameters: parametersFor(emulator, { b2LargeFileChunkSize: 0 }),
    plugins: [new B2StoragePlugin({ largeFileChunkSize: 1_000_000 })],
  });
  assert.instance(overridden.resolveStorage(), B2Storage, "an option given to the plugin wins over the parameter");
});

test("B2Storage validates its options without echoing values", () => {
  const base = { keyId: "key", applicationKey: "secret-value-123", bucketId: "bucket" };
  assert.is(configErrorOf(() => new B2Storage({ ...base, applicationKey: "" })).where, "B2Storage.options.applicationKey");
  const spaced = configErrorOf(() => new B2Storage({ ...base, keyId: "has space-secretish" }));
  assert.is(spaced.where, "B2Storage.options.keyId");
  assert.not.match(spaced.message, "secretish");
  assert.is(configErrorOf(() => new B2Storage({ ...base, maxAttempts: 1.5 })).where, "B2Storage.options.maxAttempts");
});

test("keys live under namePrefix, and two prefixes do not see each other", async () => {
  const emulator = new B2Emulator();
  await emulator.start();
  const make = (namePrefix: string) => new B2Storage({ ...emulator.credentials, bucketId: emulator.bucketId, authorizeUrl: emulator.authorizeUrl, namePrefix });
  const [one, two] = [make("host1/"), make("host2/")];
  try {
    await one.put("a/b", Buffer.from("1"), 1);
    await two.put("a/c", Buffer.from("2"), 1);
    assert.equal(
      emulator.files().map((f) => f.fileName),
      ["host1/a/b", "host2/a/c"],
    );
    assert.equal(await listKeys(one, ""), ["a/b"]);
    assert.equal(await listKeys(two, "a/"), ["a/c"]);
    assert.is(await one.head("a/c"), undefined);
    assert.is(one.description, `b2:${emulator.bucketId}/host1/`);
  } finally {
    await one.close();
    await two.close();
    await emulator.stop();
  }
});

test("a key for the whole account looks the bucket name up once", async () => {
  const emulator = new B2Emulator({ restrictToBucket: false });
  await emulator.start();
  const backend = new B2Storage({ ...emulator.credentials, bucketId: emulator.bucketId, authorizeUrl: emulator.authorizeUrl });
  try {
    await backend.put("x", Buffer.from("x"), 1);
    assert.is((await getAll(backend, "x")).toString(), "x");
    assert.is((await backend.head("x"))?.size, 1);
    assert.is(emulator.counts().byApi.b2_list_buckets, 1);
  } finally {
    await backend.close();
    await emulator.stop();
  }
});

test.run();
