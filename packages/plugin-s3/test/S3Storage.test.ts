import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import { Readable } from "node:stream";
import { StorageError } from "@rtbackup/core";
import { readAll } from "@rtbackup/core/testing";
import { S3Storage } from "@rtbackup/plugin-s3";
import { collectingLogger } from "./helpers/collectingLogger.js";
import { stackOptions, countingFactory, sha, withStack } from "./helpers/stack.js";
import { startS3rver } from "./helpers/s3rver.js";
import type { SeenRequest } from "./helpers/FaultProxy.js";

const MiB = 1024 * 1024;

const isPart = (r: SeenRequest) => r.method === "PUT" && /[?&]partNumber=/.test(r.url);
const isSinglePut = (r: SeenRequest) => r.method === "PUT" && !/[?&](partNumber|uploadId)=/.test(r.url);

/** Headers that would mean the SDK sent an aws-chunked body or a flexible checksum. */
function checksumHeaders(r: SeenRequest): string[] {
  const bad = Object.keys(r.headers).filter((h) => h.startsWith("x-amz-checksum-") || h === "x-amz-trailer" || h === "x-amz-sdk-checksum-algorithm");
  if (String(r.headers["content-encoding"] ?? "").includes("aws-chunked")) bad.push("content-encoding: aws-chunked");
  if (String(r.headers["x-amz-content-sha256"] ?? "").startsWith("STREAMING")) bad.push("x-amz-content-sha256: STREAMING");
  return bad;
}

test("single puts carry a correct Content-MD5 and no streaming checksum, for buffer and stream bodies", () =>
  withStack({}, async ({ proxy, storage, direct }) => {
    const a = randomBytes(70_000);
    const b = randomBytes(5 * MiB);
    await storage.put("buf", a, a.length);
    await storage.put("stream", countingFactory(b).factory, b.length);
    const puts = proxy.seen.filter(isSinglePut);
    assert.is(puts.length, 2);
    for (const r of puts) {
      assert.is(r.headers["content-md5"], r.bodyMd5, `Content-MD5 of ${r.url}`);
      assert.equal(checksumHeaders(r), [], `no flexible checksum on ${r.url}`);
    }
    assert.is(sha(await readAll(await direct.get("buf"))), sha(a));
    assert.is(sha(await readAll(await direct.get("stream"))), sha(b));
  }));

test("above the threshold the upload is multipart with parallel parts; the object round-trips byte for byte", () =>
  withStack({ concurrency: 4 }, async ({ proxy, storage, direct }) => {
    const data = randomBytes(20 * MiB + 3);
    await storage.put("mp", countingFactory(data).factory, data.length);
    assert.is(proxy.count("POST", /[?&]uploads/), 1, "CreateMultipartUpload");
    assert.is(proxy.seen.filter(isPart).length, 5, "five parts of 5 MiB");
    assert.is(proxy.count("POST", /[?&]uploadId=/), 1, "CompleteMultipartUpload");
    assert.ok(proxy.maxConcurrent(isPart) >= 2, `parts overlapped (max ${proxy.maxConcurrent(isPart)} at once)`);
    for (const r of proxy.seen.filter(isPart)) assert.equal(checksumHeaders(r), []);
    assert.equal(await direct.head("mp"), { key: "mp", size: data.length });
    assert.is(sha(await readAll(await direct.get("mp"))), sha(data));
    const tail = await readAll(await storage.get("mp", { start: 20 * MiB - 10, end: 20 * MiB + 2 }));
    assert.ok(tail.equals(data.subarray(20 * MiB - 10)), "a ranged read across the last part boundary");
  }));

test("a body whose length differs from the declared size is refused and nothing is stored", () =>
  withStack({}, async ({ storage }) => {
    const cases: [string, Parameters<S3Storage["put"]>[1], number][] = [
      ["buffer-short", Buffer.alloc(10), 11],
      ["stream-long", () => Readable.from([Buffer.alloc(100)]), 99],
      ["multipart-short", () => Readable.from([Buffer.alloc(6 * MiB)]), 7 * MiB],
      ["multipart-long", () => Readable.from([Buffer.alloc(8 * MiB)]), 7 * MiB],
      ["multipart-buffer", Buffer.alloc(6 * MiB), 6 * MiB + 1],
    ];
    for (const [key, body, size] of cases) {
      try {
        await storage.put(key, body, size);
        assert.unreachable(`${key} must fail`);
      } catch (err) {
        assert.instance(err, StorageError, key);
        assert.is((err as StorageError).transient, false, key);
        assert.match((err as StorageError).message, /body was/, key);
      }
      assert.is(await storage.head(key), undefined, `${key} not stored`);
    }
  }));

test("deleteMany removes 1,001 objects in two DeleteObjects requests with Content-MD5, ignoring absent keys", () =>
  withStack({ prefix: "p" }, async ({ proxy, storage }) => {
    const keys = Array.from({ length: 1001 }, (_, i) => `del/${String(i).padStart(4, "0")}`);
    const queue = [...keys];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let k = queue.shift(); k !== undefined; k = queue.shift()) await storage.put(k, Buffer.from(k), k.length);
      }),
    );
    await storage.put("keep", Buffer.from("k"), 1);
    await storage.deleteMany([...keys, "del/absent"]);
    const deletes = proxy.seen.filter((r) => r.method === "POST" && /[?&]delete/.test(r.url));
    assert.is(deletes.length, 2);
    for (const r of deletes) {
      assert.is(r.headers["content-md5"], r.bodyMd5);
      assert.equal(checksumHeaders(r), []);
    }
    const left: string[] = [];
    for await (const info of storage.list("")) left.push(info.key);
    assert.equal(left, ["keep"]);
  }));

test("invalid keys and ranges are refused before any request", () =>
  withStack({}, async ({ proxy, storage }) => {
    for (const key of ["", "/abs", "a//b", "a/../b", "tab\tkey"]) {
      try {
        await storage.put(key, Buffer.from("x"), 1);
        assert.unreachable(key);
      } catch (err) {
        assert.instance(err, StorageError);
        assert.is((err as StorageError).transient, false);
      }
    }
    try {
      await storage.get("k", { start: 5, end: 4 });
      assert.unreachable("bad range");
    } catch (err) {
      assert.instance(err, StorageError);
    }
    assert.is(proxy.seen.length, 0);
  }));

test("the stale-upload sweep runs once, lazily before the first put, and never for readers", () =>
  withStack({}, async ({ proxy, storage }) => {
    await storage.head("x");
    for await (const _ of storage.list("")) void _;
    assert.is(proxy.count("GET", /[?&]uploads/), 0, "readers do not sweep");
    await storage.put("a", Buffer.from("a"), 1);
    await storage.put("b", Buffer.from("b"), 1);
    assert.is(proxy.count("GET", /[?&]uploads/), 1, "one ListMultipartUploads (s3rver answers NotImplemented)");
  }));

test("init() checks the bucket: fine on s3rver, a missing bucket and wrong credentials say what to fix", async () => {
  const server = await startS3rver();
  const { logger } = collectingLogger();
  const good = new S3Storage(stackOptions(server.endpoint, server.bucket, { logger }));
  const missing = new S3Storage(stackOptions(server.endpoint, "no-such-bucket", { logger }));
  const wrong = new S3Storage({
    ...stackOptions(server.endpoint, server.bucket, { logger }),
    credentials: { accessKeyId: "AKIAWRONGWRONGWRONG1", secretAccessKey: "wrong-secret-0123456789" },
  });
  try {
    await good.init();
    await assertInitFails(missing, /does not exist/);
    await assertInitFails(wrong, /denied/);
  } finally {
    await Promise.all([good.close(), missing.close(), wrong.close()]);
    await server.stop();
  }
});

async function assertInitFails(storage: S3Storage, pattern: RegExp): Promise<void> {
  try {
    await storage.init();
    assert.unreachable("init must fail");
  } catch (err) {
    assert.instance(err, StorageError);
    assert.is((err as StorageError).transient, false);
    assert.match((err as StorageError).message, pattern);
  }
}

test("credentials never reach errors, causes, logs or the description, whichever way they were given", async () => {
  const server = await startS3rver();
  const keyId = "AKIAREDACTME12345678";
  const secret = "sEcReT/redact+me0123456789abcdefghijklmno";
  const savedEnv = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  const { logger, lines } = collectingLogger();
  const storages: S3Storage[] = [];
  try {
    process.env.AWS_ACCESS_KEY_ID = keyId;
    process.env.AWS_SECRET_ACCESS_KEY = secret;
    const base = stackOptions(server.endpoint, server.bucket, { logger, maxAttempts: 1, retries: 1 });
    const { credentials: _ignored, ...noCredentials } = base;
    storages.push(
      new S3Storage({ ...base, credentials: { accessKeyId: keyId, secretAccessKey: secret } }),
      new S3Storage({ ...base, credentials: async () => ({ accessKeyId: keyId, secretAccessKey: secret }) }),
      new S3Storage(noCredentials),
    );
    for (const storage of storages) {
      assert.not.match(storage.description + JSON.stringify(storage.options), keyId);
      for (const op of [() => storage.put("k", Buffer.from("v"), 1), () => storage.get("k"), () => storage.init(), () => storage.deleteMany(["k"])]) {
        try {
          await op();
          assert.unreachable("s3rver must refuse an unknown access key");
        } catch (err) {
          assert.instance(err, StorageError);
          assert.is((err as StorageError).transient, false);
          const text = `${(err as Error).message}\n${inspect(err, { depth: 10, showHidden: true })}\n${JSON.stringify(err)}`;
          assert.match(text, /InvalidAccessKeyId|denied/);
          assert.not.ok(text.includes(keyId), `access key id leaked: ${text}`);
          assert.not.ok(text.includes(secret), "secret leaked");
        }
      }
    }
    const log = lines.join("\n");
    assert.not.ok(log.includes(keyId) || log.includes(secret), `log leaked: ${log}`);
  } finally {
    if (savedEnv.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    else process.env.AWS_ACCESS_KEY_ID = savedEnv.id;
    if (savedEnv.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    else process.env.AWS_SECRET_ACCESS_KEY = savedEnv.secret;
    await Promise.all(storages.map((s) => s.close()));
    await server.stop();
  }
});

test("a server message quoting the access key id is masked, for static, provider and default-chain credentials", () =>
  withStack({}, async ({ proxy, server }) => {
    const keyId = "AKIAQUOTED0123456789";
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    const { logger, lines } = collectingLogger();
    const base = stackOptions(proxy.endpoint, server.bucket, { logger, abortStaleUploads: false });
    const { credentials: _ignored, ...noCredentials } = base;
    const storages = [
      new S3Storage({ ...base, credentials: { accessKeyId: keyId, secretAccessKey: "s3cr3t-value-xyz" } }),
      new S3Storage({ ...base, credentials: async () => ({ accessKeyId: keyId, secretAccessKey: "s3cr3t-value-xyz" }) }),
      new S3Storage(noCredentials),
    ];
    try {
      process.env.AWS_ACCESS_KEY_ID = keyId;
      process.env.AWS_SECRET_ACCESS_KEY = "s3cr3t-value-xyz";
      for (const storage of storages) {
        proxy.inject({ match: (r) => r.method === "PUT", fault: "denied-echo", times: 1 });
        try {
          await storage.put("k", Buffer.from("v"), 1);
          assert.unreachable("the proxy refuses");
        } catch (err) {
          const text = `${(err as Error).message}\n${inspect(err, { depth: 10, showHidden: true })}`;
          assert.match(text, /The access key id '\[REDACTED\]' is not valid/);
          assert.not.ok(text.includes(keyId), text);
        }
      }
      assert.not.ok(lines.join("\n").includes(keyId));
    } finally {
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      else process.env.AWS_ACCESS_KEY_ID = saved.id;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
      await Promise.all(storages.map((s) => s.close()));
    }
  }));

test("an unreachable endpoint is a transient error", async () => {
  const server = await startS3rver();
  const endpoint = server.endpoint;
  await server.stop();
  const storage = new S3Storage(stackOptions(endpoint, "rtb-test", { maxAttempts: 2, retries: 2 }));
  try {
    await storage.head("k");
    assert.unreachable("nothing listens there");
  } catch (err) {
    assert.instance(err, StorageError);
    assert.is((err as StorageError).transient, true);
    assert.match((err as StorageError).message, /ECONNREFUSED/);
  } finally {
    await storage.close();
  }
});

test.run();
