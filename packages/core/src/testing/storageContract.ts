import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Readable } from "node:stream";
import { createHash, randomBytes } from "node:crypto";
import { StorageError } from "../errors.js";
import { collectStream } from "../io/collectStream.js";
import type { StorageBackend } from "../storage/StorageBackend.js";

/** What a contract run needs from the backend under test. */
export interface StorageContractTarget {
  backend: StorageBackend;
  /** Removes whatever the run created (servers, directories). Called even when a test fails. */
  cleanup(): Promise<void>;
}

/** Options of {@link storageContractSuite}. */
export interface StorageContractOptions {
  /** Size of the "large" object, chosen to cross the backend's multipart threshold. Default 12 MiB. */
  largeSize?: number;
  /** How many objects the listing test writes (more than one page of the backend's list call). Default 30. */
  listCount?: number;
}

/** Collects a stream into one buffer. */
export function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  return collectStream(stream);
}

async function collectKeys(backend: StorageBackend, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of backend.list(prefix)) keys.push(info.key);
  return keys;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/**
 * The storage contract every backend must pass (DESIGN.md §4). Call it from a backend's test file with a factory
 * that builds a fresh, empty backend; the returned uvu suite is already scheduled with `.run()`.
 */
export function storageContractSuite(name: string, create: () => Promise<StorageContractTarget>, options: StorageContractOptions = {}): void {
  const largeSize = options.largeSize ?? 12 * 1024 * 1024;
  const listCount = options.listCount ?? 30;
  const test = suite<{ target?: StorageContractTarget }>(`storage contract: ${name}`, {});
  test.before.each(async (ctx) => {
    ctx.target = await create();
  });
  test.after.each(async (ctx) => {
    await ctx.target?.cleanup();
    delete ctx.target;
  });
  const backendOf = (ctx: { target?: StorageContractTarget }) => ctx.target!.backend;

  test("put a buffer, head and get it back", async (ctx) => {
    const b = backendOf(ctx);
    const data = randomBytes(1000);
    await b.put("a/b/small", data, data.length);
    assert.equal(await b.head("a/b/small"), { key: "a/b/small", size: 1000 });
    assert.ok((await readAll(await b.get("a/b/small"))).equals(data));
  });

  test("putNew, where the backend has it: of racing writers of one key exactly one stores, and its bytes stand", async (ctx) => {
    const b = backendOf(ctx);
    if (!b.putNew) return;
    const bodies = Array.from({ length: 8 }, () => randomBytes(300));
    const stored = await Promise.all(bodies.map((body) => b.putNew!("race/config", body, body.length)));
    assert.is(stored.filter(Boolean).length, 1, `stored: ${stored.join(", ")}`);
    const winner = bodies[stored.indexOf(true)]!;
    assert.ok((await readAll(await b.get("race/config"))).equals(winner));
    assert.is(await b.putNew("race/config", bodies[0]!, 300), false);
    assert.equal(await collectKeys(b, "race/"), ["race/config"]);
  });

  test("an empty object round-trips", async (ctx) => {
    const b = backendOf(ctx);
    await b.put("empty", new Uint8Array(0), 0);
    assert.equal((await b.head("empty"))?.size, 0);
    assert.is((await readAll(await b.get("empty"))).length, 0);
  });

  test("a stream body is reopened per attempt and a large object round-trips byte for byte", async (ctx) => {
    const b = backendOf(ctx);
    const data = randomBytes(largeSize);
    let opened = 0;
    await b.put(
      "large/object",
      () => {
        opened += 1;
        // Small pieces, so a backend that buffers or splits parts sees a real stream.
        return Readable.from(
          (function* () {
            for (let i = 0; i < data.length; i += 65536) yield data.subarray(i, i + 65536);
          })(),
        );
      },
      data.length,
    );
    assert.ok(opened >= 1, "the body factory was called");
    assert.equal((await b.head("large/object"))?.size, largeSize);
    assert.is(sha(await readAll(await b.get("large/object"))), sha(data));
  });

  test("a settled put never reads its body again: the caller may overwrite it at once", async (ctx) => {
    const b = backendOf(ctx);
    const data = randomBytes(largeSize);
    const want = sha(data);
    await b.put("reused/body", () => Readable.from([data.subarray(0, data.length / 2), data.subarray(data.length / 2)]), data.length);
    data.fill(0x5a);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.is(sha(await readAll(await b.get("reused/body"))), want, "the object holds the bytes as they were during the put");
  });

  test("put replaces an existing object", async (ctx) => {
    const b = backendOf(ctx);
    await b.put("k", Buffer.from("first version"), 13);
    await b.put("k", Buffer.from("second"), 6);
    assert.is((await readAll(await b.get("k"))).toString(), "second");
    assert.equal(await collectKeys(b, "k"), ["k"]);
  });

  test("ranged reads return exactly the inclusive byte range", async (ctx) => {
    const b = backendOf(ctx);
    const data = randomBytes(10_000);
    await b.put("r", data, data.length);
    assert.ok((await readAll(await b.get("r", { start: 0, end: 0 }))).equals(data.subarray(0, 1)));
    assert.ok((await readAll(await b.get("r", { start: 100, end: 4099 }))).equals(data.subarray(100, 4100)));
    assert.ok((await readAll(await b.get("r", { start: 9000, end: 9999 }))).equals(data.subarray(9000)));
  });

  test("missing objects: head is undefined, get rejects with STORAGE_NOT_FOUND, delete is quiet", async (ctx) => {
    const b = backendOf(ctx);
    assert.is(await b.head("nope/missing"), undefined);
    try {
      const stream = await b.get("nope/missing");
      await readAll(stream);
      assert.unreachable("get of a missing object must fail");
    } catch (err) {
      assert.instance(err, StorageError);
      assert.is((err as StorageError).code, "STORAGE_NOT_FOUND");
    }
    await b.delete("nope/missing");
  });

  test("list returns every key under a prefix, in ascending order, across pages", async (ctx) => {
    const b = backendOf(ctx);
    const keys: string[] = [];
    for (let i = 0; i < listCount; i++) keys.push(`list/x/${String(i).padStart(4, "0")}`);
    keys.push("list/y/deep/er/still", "list/x-sibling", "list-not/under");
    for (const k of keys) await b.put(k, Buffer.from(k), Buffer.byteLength(k));
    const under = keys.filter((k) => k.startsWith("list/")).sort((a, b2) => Buffer.compare(Buffer.from(a), Buffer.from(b2)));
    assert.equal(await collectKeys(b, "list/"), under);
    assert.equal((await collectKeys(b, "list/x/")).length, listCount);
    assert.equal(await collectKeys(b, "list/y/deep"), ["list/y/deep/er/still"]);
    assert.equal(await collectKeys(b, "absent/"), []);
    const sizes: number[] = [];
    for await (const info of b.list("list/x/000")) sizes.push(info.size);
    assert.ok(sizes.every((s) => s === "list/x/0000".length));
  });

  test("delete removes an object", async (ctx) => {
    const b = backendOf(ctx);
    await b.put("d/one", Buffer.from("1"), 1);
    await b.put("d/two", Buffer.from("2"), 1);
    await b.delete("d/one");
    assert.is(await b.head("d/one"), undefined);
    assert.equal(await collectKeys(b, "d/"), ["d/two"]);
  });

  test("keys with spaces and unicode round-trip", async (ctx) => {
    const b = backendOf(ctx);
    const key = "names/with space/ünïcødé 日本/file (1).txt";
    await b.put(key, Buffer.from("x"), 1);
    assert.equal(await collectKeys(b, "names/"), [key]);
    assert.is((await readAll(await b.get(key))).toString(), "x");
  });

  test("a body shorter than its declared size is rejected and stores nothing", async (ctx) => {
    const b = backendOf(ctx);
    let failed = false;
    try {
      await b.put("short", () => Readable.from([Buffer.from("only ten b")]), 20);
    } catch {
      failed = true;
    }
    assert.ok(failed, "put must reject a short body");
    assert.is(await b.head("short"), undefined);
  });

  test.run();
}
