import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError, Engine, PluginError, defaultParameters, type LogSink, type Parameters } from "@rtbackup/core";
import { readAll } from "@rtbackup/core/testing";
import { S3Storage, S3StoragePlugin, s3OptionsFromParameters } from "@rtbackup/plugin-s3";
import { S3RVER_CREDENTIALS, startS3rver } from "./helpers/s3rver.js";

const MiB = 1024 * 1024;

function sink(): { sink: LogSink; lines: string[] } {
  const lines: string[] = [];
  return { sink: { write: (level, name, message) => lines.push(`${level} [${name}] ${message}`) }, lines };
}

function s3Parameters(endpoint: string, bucket: string, extra: Partial<Parameters> = {}): Partial<Parameters> {
  return {
    storage: "s3",
    s3Endpoint: endpoint,
    s3Bucket: bucket,
    s3AccessKeyId: S3RVER_CREDENTIALS.accessKeyId,
    s3SecretAccessKey: S3RVER_CREDENTIALS.secretAccessKey,
    ...extra,
  };
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.instance(err, ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

test("storage = s3 in the parameters: the plugin supplies an S3Storage that initializes, stores and closes", async () => {
  const server = await startS3rver();
  const log = sink();
  const engine = new Engine({
    parameters: s3Parameters(server.endpoint, server.bucket, { s3PartSize: 5 * MiB, s3Concurrency: 2 }),
    log: { sink: log.sink },
    plugins: [new S3StoragePlugin()],
  });
  try {
    await engine.hooks.initialize.promise();
    const storage = engine.resolveStorage();
    assert.instance(storage, S3Storage);
    assert.is(storage.description, `s3:${new URL(server.endpoint).host}/${server.bucket}/`);
    const s3 = storage as S3Storage;
    assert.is(s3.options.forcePathStyle, true, "a custom endpoint defaults to path style");
    assert.is(s3.options.partSize, 5 * MiB);
    assert.is(s3.options.concurrency, 2);
    assert.is(s3.options.credentials, "static (***)");
    await storage.put("hello", Buffer.from("world"), 5);
    assert.is((await readAll(await storage.get("hello"))).toString(), "world");
    assert.is(engine.resolveStorage(), storage, "one storage per plugin");
  } finally {
    await engine.hooks.shutdown.promise();
    await server.stop();
  }
  assert.not.ok(log.lines.join("\n").includes("S3RVER"), "no credential in the log");
});

test("which storage the plugin answers for", () => {
  const explicit = { bucket: "b", endpoint: "http://127.0.0.1:9", credentials: { accessKeyId: "a1234", secretAccessKey: "s1234" } };
  const ask = (plugin: S3StoragePlugin, storage: Parameters["storage"]) => {
    const engine = new Engine({ parameters: { storage, s3Bucket: "b", localStoragePath: "/nonexistent" }, plugins: [plugin] });
    return engine.hooks.storage.call({ parameters: engine.parameters });
  };
  assert.instance(ask(new S3StoragePlugin(), "s3"), S3Storage);
  assert.not.instance(ask(new S3StoragePlugin(), "local"), S3Storage);
  assert.is(ask(new S3StoragePlugin(), "b2"), undefined);
  assert.instance(ask(new S3StoragePlugin(explicit), "local"), S3Storage, "explicit options win over the local default");
  assert.instance(ask(new S3StoragePlugin(explicit), "s3"), S3Storage);
  assert.is(ask(new S3StoragePlugin(explicit), "b2"), undefined, "choosing b2 keeps it out");
});

test("initialize stops the start when the bucket does not exist, saying so", async () => {
  const server = await startS3rver();
  const engine = new Engine({
    parameters: s3Parameters(server.endpoint, "missing-bucket"),
    log: { sink: sink().sink },
    plugins: [new S3StoragePlugin()],
  });
  try {
    await engine.hooks.initialize.promise();
    assert.unreachable("initialize must fail");
  } catch (err) {
    assert.instance(err, PluginError);
    assert.is((err as PluginError).plugin, "S3StoragePlugin");
    assert.match((err as Error).message, /bucket "missing-bucket" does not exist/);
  } finally {
    await engine.hooks.shutdown.promise();
    await server.stop();
  }
});

test("initialize only warns when the store is unreachable (uploads retry later)", async () => {
  const server = await startS3rver();
  const endpoint = server.endpoint;
  await server.stop();
  const log = sink();
  const engine = new Engine({
    parameters: s3Parameters(endpoint, "b"),
    log: { sink: log.sink },
    plugins: [new S3StoragePlugin({ endpoint, bucket: "b", credentials: S3RVER_CREDENTIALS, maxAttempts: 1, retries: 1 })],
  });
  try {
    await engine.hooks.initialize.promise();
    assert.ok(
      log.lines.some((l) => l.startsWith("warn [S3StoragePlugin]") && /ECONNREFUSED/.test(l)),
      log.lines.join("\n"),
    );
  } finally {
    await engine.hooks.shutdown.promise();
  }
});

test("bad explicit options are ConfigErrors naming the option and what was expected", () => {
  const cases: [unknown, RegExp][] = [
    [{}, /^S3StoragePlugin\.options\.bucket: required: expected a bucket name/],
    [{ bucket: "a/b" }, /options\.bucket: expected a bucket name without '\/' or spaces, got "a\/b"/],
    [{ bucket: "b", endpoint: "ftp://x" }, /options\.endpoint: expected an http:\/\/ or https:\/\/ URL/],
    [{ bucket: "b", endpoint: "https://user:pw@x" }, /options\.endpoint: expected a URL without a user name or password/],
    [{ bucket: "b", partSize: 1024 }, /options\.partSize: expected a whole number of bytes from 5242880 to 5368709120, got 1024/],
    [{ bucket: "b", concurrency: 0 }, /options\.concurrency: expected a whole number from 1 to 256/],
    [{ bucket: "b", listPageSize: 1001 }, /options\.listPageSize: expected a whole number from 1 to 1000/],
    [{ bucket: "b", forcePathStyle: "yes" }, /options\.forcePathStyle: expected true or false/],
    [{ bucket: "b", storageClass: "cold storage" }, /options\.storageClass: expected a storage class name/],
    [{ bucket: "b", prefix: "/abs" }, /options\.prefix: expected a key prefix/],
    [{ bucket: "b", credentials: { accessKeyId: "AKIASHOWNOT" } }, /options\.credentials: expected .*secretAccessKey is missing/],
    [{ bucket: "b", bukket: "x" }, /options\.bukket: unknown option \(did you mean bucket\?\)/],
    ["just-a-string", /^S3StoragePlugin\.options: expected an object/],
  ];
  for (const [options, pattern] of cases) {
    const err = configError(() => new S3StoragePlugin(options));
    assert.match(err.message, pattern);
    assert.not.match(err.message, /AKIASHOWNOT/);
  }
  assert.not.match(configError(() => new S3StoragePlugin({ bucket: "b", endpoint: "https://user:pw@x" })).message, /pw/, "nor a password in the URL");
});

test("from parameters: defaults, and errors naming the XML element and the key", () => {
  const p = { ...defaultParameters(), storage: "s3" as const, s3Bucket: "bk" };
  const aws = s3OptionsFromParameters(p);
  assert.is(aws.endpoint, undefined);
  assert.is(aws.forcePathStyle, false, "virtual-hosted style on AWS");
  assert.is(aws.credentials, undefined, "the SDK's default chain");
  assert.is(aws.region, "us-east-1");
  assert.is(aws.partSize, 16 * MiB);
  assert.is(aws.multipartThreshold, 16 * MiB);
  const minio = s3OptionsFromParameters({ ...p, s3Endpoint: "http://minio:9000", s3ForcePathStyle: false, s3StorageClass: "STANDARD" });
  assert.is(minio.forcePathStyle, false, "an explicit S3ForcePathStyle wins");
  assert.is(minio.storageClass, "STANDARD");
  assert.match(configError(() => s3OptionsFromParameters({ ...p, s3Bucket: "" })).message, /<S3Bucket> \(parameters\.s3Bucket\): required/);
  assert.match(
    configError(() => s3OptionsFromParameters({ ...p, s3AccessKeyId: "AKIAONLYKEY" })).message,
    /<S3AccessKeyId>\/<S3SecretAccessKey>.*set both, or neither/,
  );
  assert.match(configError(() => s3OptionsFromParameters({ ...p, s3PartSize: 100 })).message, /<S3PartSize> \(parameters\.s3PartSize\)/);
  assert.match(configError(() => s3OptionsFromParameters({ ...p, s3Endpoint: "minio:9000" })).message, /<S3Endpoint>/);
});

test.run();
