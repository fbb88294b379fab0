import { test } from "uvu";
import * as assert from "uvu/assert";
import { Engine, silentSink } from "@rtbackup/core";
import { S3Storage, S3StoragePlugin } from "@rtbackup/plugin-s3";
import { FakeUploadsEndpoint } from "./helpers/FakeUploadsEndpoint.js";

const credentials = { accessKeyId: "FAKEKEYID", secretAccessKey: "FAKESECRET" };

const uploads = [
  { key: "root/host-a/data/1", uploadId: "u1" },
  { key: "root/host-a/data/2", uploadId: "u2" },
  { key: "root/host-a/data/2", uploadId: "u2b", vanished: true },
  { key: "root/host-a/index/x", uploadId: "u3" },
  { key: "root/host-b/data/9", uploadId: "u4" },
  { key: "elsewhere/file", uploadId: "u5" },
];

test("before the first put, incomplete uploads under prefix + staleUploadPrefix are aborted, across pages", async () => {
  const fake = await FakeUploadsEndpoint.start(uploads, 2);
  const storage = new S3Storage({ endpoint: fake.endpoint, bucket: "b", prefix: "root", staleUploadPrefix: "host-a", credentials });
  try {
    await storage.put("host-a/new", Buffer.from("x"), 1);
    assert.equal(fake.aborted.sort(), ["/b/root/host-a/data/1#u1", "/b/root/host-a/data/2#u2", "/b/root/host-a/index/x#u3"]);
    const lists = fake.requests.filter((r) => r.method === "GET" && r.url.includes("uploads"));
    assert.is(lists.length, 2, "two pages of two");
    assert.ok(
      lists.every((r) => r.url.includes("prefix=root%2Fhost-a%2F")),
      lists.map((r) => r.url).join(" "),
    );
    const order = fake.requests.map((r) => r.method);
    assert.is(order.lastIndexOf("DELETE") < order.indexOf("PUT"), true, "the put waited for the sweep");
    await storage.put("host-a/again", Buffer.from("y"), 1);
    assert.is(fake.requests.filter((r) => r.method === "GET").length, 2, "the sweep ran once");
  } finally {
    await storage.close();
    await fake.stop();
  }
});

test("abortStaleUploads: false never lists uploads", async () => {
  const fake = await FakeUploadsEndpoint.start(uploads, 2);
  const storage = new S3Storage({ endpoint: fake.endpoint, bucket: "b", credentials, abortStaleUploads: false });
  try {
    await storage.put("k", Buffer.from("x"), 1);
    assert.equal(fake.aborted, []);
    assert.equal(
      fake.requests.map((r) => r.method),
      ["PUT"],
    );
  } finally {
    await storage.close();
    await fake.stop();
  }
});

test("from parameters, the sweep is bounded by RepositoryPrefix (hosts sharing a bucket keep their uploads)", async () => {
  const fake = await FakeUploadsEndpoint.start(uploads, 10);
  const engine = new Engine({
    log: { sink: silentSink },
    parameters: {
      storage: "s3",
      s3Endpoint: fake.endpoint,
      s3Bucket: "b",
      s3AccessKeyId: credentials.accessKeyId,
      s3SecretAccessKey: credentials.secretAccessKey,
      repositoryPrefix: "root/host-b",
    },
    plugins: [new S3StoragePlugin()],
  });
  try {
    const storage = engine.resolveStorage();
    assert.instance(storage, S3Storage);
    await storage.put("root/host-b/k", Buffer.from("x"), 1);
    assert.equal(fake.aborted, ["/b/root/host-b/data/9#u4"]);
  } finally {
    await engine.hooks.shutdown.promise();
    await fake.stop();
  }
});

test.run();
