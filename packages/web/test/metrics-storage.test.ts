// The metered storage wrapper AgentMetrics puts in through `wrapStorage`: it delegates every method, keeps the
// optional ones absent when the backend lacks them, and counts calls and errors by kind and B2 class.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createRequire } from "node:module";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { Engine, LocalDirectoryStorage, StorageError, silentSink, type ObjectInfo, type StorageBackend } from "@rtbackup/core";
import { AgentMetrics, B2_TRANSACTION_CLASS } from "@rtbackup/web";

interface Family {
  name: string;
  metrics: { value?: string; labels?: Record<string, string> }[];
}
const parsePrometheus = createRequire(import.meta.url)("parse-prometheus-text-format") as (text: string) => Family[];

/** The value of the sample of `name` with exactly these labels (0 when there is none). */
async function sample(metrics: AgentMetrics, name: string, labels: Record<string, string>): Promise<number> {
  const family = parsePrometheus(await metrics.text()).find((f) => f.name === name);
  const found = family?.metrics.find((m) => JSON.stringify(m.labels ?? {}) === JSON.stringify(labels));
  return Number(found?.value ?? 0);
}

/** The backend as the engine would use it: through the `wrapStorage` hook with the metrics plugin applied. */
function wrapped(backend: StorageBackend, metrics = new AgentMetrics()): { store: StorageBackend; metrics: AgentMetrics } {
  const engine = new Engine({ coreDefaults: false, log: { sink: silentSink }, plugins: [metrics.plugin] });
  return { store: engine.hooks.wrapStorage.call(backend), metrics };
}

/** The required methods only, in memory; `list` fails after its first object when `brokenList`. */
function memoryBackend(options: { brokenList?: boolean } = {}): StorageBackend {
  const objects = new Map<string, Buffer>();
  return {
    description: "memory:test",
    async put(key, body) {
      objects.set(key, Buffer.from(body instanceof Uint8Array ? body : await collect(await body())));
    },
    async get(key) {
      const data = objects.get(key);
      if (!data) throw new StorageError("STORAGE_NOT_FOUND", `no object ${key}`, { key });
      return Readable.from([data]);
    },
    async head(key) {
      const data = objects.get(key);
      return data ? { key, size: data.length } : undefined;
    },
    async *list(prefix): AsyncIterable<ObjectInfo> {
      for (const [key, data] of [...objects].sort()) {
        if (!key.startsWith(prefix)) continue;
        yield { key, size: data.length };
        if (options.brokenList) throw new StorageError("STORAGE_FAILED", "listing broke");
      }
    },
    async delete(key) {
      objects.delete(key);
    },
  };
}

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

const OPTIONAL = ["putNew", "canDelete", "sync", "close"] as const;

test("optional methods stay absent when the backend lacks them", () => {
  const { store } = wrapped(memoryBackend());
  for (const name of OPTIONAL) {
    assert.not.ok(name in store, `${name} absent`);
    assert.is(store[name], undefined);
  }
  assert.is(store.description, "memory:test");
});

test("each optional method is there exactly when the backend has it", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-web-metrics-store-"));
  try {
    const local = new LocalDirectoryStorage({ path: dir });
    const withCanDelete: StorageBackend = { ...memoryBackend(), canDelete: async () => true };
    for (const backend of [local, withCanDelete] as StorageBackend[]) {
      const { store } = wrapped(backend);
      for (const name of OPTIONAL) assert.is(typeof store[name], typeof backend[name], `${backend.description}: ${name}`);
    }
    assert.is(await wrapped(withCanDelete).store.canDelete!(), true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("every call is delegated and counted by kind and B2 class", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-web-metrics-store-"));
  try {
    const { store, metrics } = wrapped(new LocalDirectoryStorage({ path: dir }));
    await store.put("a/one", Buffer.from("one"), 3);
    assert.is(await store.putNew!("a/two", Buffer.from("two"), 3), true);
    assert.is((await collect(await store.get("a/one"))).toString(), "one");
    assert.equal(await store.head("a/two"), { key: "a/two", size: 3 });
    const listed: string[] = [];
    for await (const info of store.list("a/")) listed.push(info.key);
    assert.equal(listed, ["a/one", "a/two"]);
    await store.delete("a/one");
    await store.sync!();
    assert.is(await store.head("a/one"), undefined);
    const expected = { put: 1, putNew: 1, get: 1, head: 2, list: 1, delete: 1, sync: 1 };
    for (const [kind, calls] of Object.entries(expected)) {
      const labels = { kind, class: B2_TRANSACTION_CLASS[kind as keyof typeof B2_TRANSACTION_CLASS] };
      assert.is(await sample(metrics, "rtb_storage_calls_total", labels), calls, `${kind} calls`);
      assert.is(await sample(metrics, "rtb_storage_errors_total", labels), 0, `${kind} errors`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the B2 classes follow Backblaze's: uploads and deletes A, downloads and heads B, listings C", () => {
  assert.equal({ ...B2_TRANSACTION_CLASS }, { put: "A", putNew: "A", delete: "A", get: "B", head: "B", list: "C", canDelete: "none", sync: "none" });
});

test("failed calls are counted as errors by kind, and the error reaches the caller", async () => {
  const { store, metrics } = wrapped(memoryBackend({ brokenList: true }));
  const err = await store.get("missing").catch((e: unknown) => e);
  assert.instance(err, StorageError);
  assert.is((err as StorageError).code, "STORAGE_NOT_FOUND");
  await store.put("k/1", Buffer.from("x"), 1);
  const listed: string[] = [];
  const listErr = await (async () => {
    for await (const info of store.list("k/")) listed.push(info.key);
  })().catch((e: unknown) => e);
  assert.instance(listErr, StorageError);
  assert.equal(listed, ["k/1"], "what was listed before the failure still arrives");
  assert.is(await sample(metrics, "rtb_storage_errors_total", { kind: "get", class: "B" }), 1);
  assert.is(await sample(metrics, "rtb_storage_errors_total", { kind: "list", class: "C" }), 1);
  assert.is(await sample(metrics, "rtb_storage_calls_total", { kind: "list", class: "C" }), 1);
  assert.is(await sample(metrics, "rtb_storage_errors_total", { kind: "put", class: "A" }), 0);
});

test("the metered wrapper is the innermost: a wrapper tapped at the default stage wraps it", () => {
  const metrics = new AgentMetrics();
  const engine = new Engine({ coreDefaults: false, log: { sink: silentSink }, plugins: [metrics.plugin] });
  const seen: StorageBackend[] = [];
  engine.hooks.wrapStorage.tap("Outer", (backend) => (seen.push(backend), backend));
  const raw = memoryBackend();
  engine.hooks.wrapStorage.call(raw);
  assert.is.not(seen[0], raw, "the outer wrapper got the metered backend, not the raw one");
  assert.is(seen[0]!.description, raw.description);
});

test.run();
