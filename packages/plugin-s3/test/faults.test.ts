import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { StorageError } from "@rtbackup/core";
import { readAll } from "@rtbackup/core/testing";
import { countingFactory, sha, withStack } from "./helpers/stack.js";

const MiB = 1024 * 1024;

const singlePut = (key: string) => (r: { method: string; url: string }) =>
  r.method === "PUT" && r.url.split("?")[0]!.endsWith(`/${key}`) && !r.url.includes("partNumber=");
const partPut = (part: number | undefined) => (r: { method: string; url: string }) =>
  r.method === "PUT" && (part === undefined ? /[?&]partNumber=\d+/ : new RegExp(`[?&]partNumber=${part}(&|$)`)).test(r.url);
const getOf = (key: string) => (r: { method: string; url: string }) => r.method === "GET" && r.url.split("?")[0]!.endsWith(`/${key}`);

test("single put: SlowDown, 503 and 500 are retried by the SDK and the stored bytes are identical", () =>
  withStack({}, async ({ proxy, storage, direct }) => {
    const data = randomBytes(300_000);
    proxy.inject({ match: singlePut("obj"), fault: "slowdown", times: 1 });
    proxy.inject({ match: singlePut("obj"), fault: "unavailable", times: 1 });
    proxy.inject({ match: singlePut("obj"), fault: "internal", times: 1 });
    await storage.put("obj", data, data.length);
    assert.is(proxy.pending, 0, "every fault was hit");
    assert.is(proxy.seen.filter((r) => singlePut("obj")(r)).length, 4);
    assert.is(sha(await readAll(await direct.get("obj"))), sha(data));
  }));

test("single put: connection reset before s3rver saw the request, and after it stored it", () =>
  withStack({}, async ({ proxy, storage, direct }) => {
    const data = randomBytes(200_000);
    proxy.inject({ match: singlePut("obj"), fault: "reset", times: 1 });
    proxy.inject({ match: singlePut("obj"), fault: "reset-after", times: 1 });
    await storage.put("obj", data, data.length);
    assert.is(proxy.pending, 0);
    assert.is(sha(await readAll(await direct.get("obj"))), sha(data));
  }));

test("stream body: when the SDK gives up, the whole put runs again from a reopened body", () =>
  withStack({ maxAttempts: 1, retries: 4 }, async ({ proxy, storage, direct }) => {
    const data = randomBytes(1 * MiB + 17);
    const body = countingFactory(data);
    proxy.inject({ match: singlePut("s"), fault: "slowdown", times: 1 });
    proxy.inject({ match: singlePut("s"), fault: "reset", times: 1 });
    await storage.put("s", body.factory, data.length);
    assert.is(body.opened(), 3, "one opening per attempt");
    assert.is(sha(await readAll(await direct.get("s"))), sha(data));
  }));

test("multipart: parts hit SlowDown, a reset and a 500; the object is complete and byte-identical", () =>
  withStack({}, async ({ proxy, storage, direct }) => {
    const data = randomBytes(12 * MiB + 5);
    const body = countingFactory(data);
    proxy.inject({ match: partPut(1), fault: "slowdown", times: 1 });
    proxy.inject({ match: partPut(2), fault: "reset", times: 1 });
    proxy.inject({ match: partPut(3), fault: "internal", times: 1 });
    await storage.put("big", body.factory, data.length);
    assert.is(proxy.pending, 0);
    assert.is(body.opened(), 1, "the SDK retried the parts; the body was read once");
    assert.is(proxy.seen.filter((r) => partPut(undefined)(r) && r.fault === undefined).length, 3, "three parts stored");
    assert.is(sha(await readAll(await direct.get("big"))), sha(data));
  }));

test("multipart: a part failing past the SDK's attempts restarts the upload from a reopened body", () =>
  withStack({ maxAttempts: 1, retries: 3 }, async ({ proxy, storage, direct }) => {
    const data = randomBytes(11 * MiB);
    const body = countingFactory(data);
    proxy.inject({ match: partPut(2), fault: "slowdown", times: 1 });
    await storage.put("big", body.factory, data.length);
    assert.is(body.opened(), 2);
    assert.is(proxy.count("POST", /[?&]uploads/), 2, "two multipart uploads were created");
    assert.ok(proxy.count("DELETE", /[?&]uploadId=/) >= 1, "the failed upload was aborted (s3rver refuses; we try)");
    assert.is(sha(await readAll(await direct.get("big"))), sha(data));
  }));

test("get: a 503 before the body and two connections cut mid-body; the stream resumes byte-identical", () =>
  withStack({}, async ({ proxy, storage, direct }) => {
    const data = randomBytes(3 * MiB);
    await direct.put("g", data, data.length);
    proxy.inject({ match: getOf("g"), fault: "unavailable", times: 1 });
    proxy.inject({ match: getOf("g"), fault: "truncate", times: 2, truncateAfter: 1 * MiB });
    const got = await readAll(await storage.get("g"));
    assert.is(proxy.pending, 0);
    assert.is(sha(got), sha(data));
    const ranges = proxy.seen.filter((r) => getOf("g")(r)).map((r) => r.headers["range"]);
    assert.equal(ranges.slice(-2), [`bytes=${1 * MiB}-${3 * MiB - 1}`, `bytes=${2 * MiB}-${3 * MiB - 1}`]);
  }));

test("ranged get resumes inside its range", () =>
  withStack({}, async ({ proxy, storage, direct }) => {
    const data = randomBytes(2 * MiB);
    await direct.put("r", data, data.length);
    proxy.inject({ match: getOf("r"), fault: "truncate", times: 1, truncateAfter: 100_000 });
    const got = await readAll(await storage.get("r", { start: 10_000, end: 1_500_000 }));
    assert.is(proxy.pending, 0);
    assert.ok(got.equals(data.subarray(10_000, 1_500_001)));
  }));

test("head and list pages are retried", () =>
  withStack({ listPageSize: 2 }, async ({ proxy, storage, direct }) => {
    for (const k of ["l/a", "l/b", "l/c", "l/d", "l/e"]) await direct.put(k, Buffer.from(k), k.length);
    proxy.inject({ match: (r) => r.method === "HEAD", fault: "unavailable", times: 2 });
    proxy.inject({ match: (r) => r.method === "GET" && r.url.includes("list-type=2"), fault: "slowdown", times: 2 });
    assert.equal(await storage.head("l/c"), { key: "l/c", size: 3 });
    const keys: string[] = [];
    for await (const info of storage.list("l/")) keys.push(info.key);
    assert.equal(keys, ["l/a", "l/b", "l/c", "l/d", "l/e"]);
    assert.is(proxy.pending, 0);
  }));

test("a permanent error (403) is not retried and says so", () =>
  withStack({}, async ({ proxy, storage }) => {
    proxy.inject({ match: singlePut("p"), fault: "denied", times: 1 });
    try {
      await storage.put("p", Buffer.from("x"), 1);
      assert.unreachable("put must fail");
    } catch (err) {
      assert.instance(err, StorageError);
      assert.is((err as StorageError).transient, false);
      assert.match((err as StorageError).message, /AccessDenied|Access Denied/);
    }
    assert.is(proxy.seen.filter((r) => singlePut("p")(r)).length, 1);
  }));

test("a fault outlasting every attempt surfaces as a transient StorageError after SDK x own attempts", () =>
  withStack({ maxAttempts: 2, retries: 2 }, async ({ proxy, storage }) => {
    proxy.inject({ match: singlePut("q"), fault: "slowdown", times: 100 });
    try {
      await storage.put("q", Buffer.from("data"), 4);
      assert.unreachable("put must fail");
    } catch (err) {
      assert.instance(err, StorageError);
      assert.is((err as StorageError).code, "STORAGE_FAILED");
      assert.is((err as StorageError).transient, true);
      assert.is((err as StorageError).key, "q");
    }
    assert.is(proxy.seen.filter((r) => singlePut("q")(r)).length, 4);
  }));

test.run();
