// AgentMetrics on a running engine: /metrics is scraped through fastify's inject and parsed by a real Prometheus
// text-format parser; the counters must move as files are backed up, and a failing store must show up as failures.
import { test } from "uvu";
import * as assert from "uvu/assert";
import Fastify, { type FastifyInstance } from "fastify";
import { createRequire } from "node:module";
import { mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine, LocalDirectoryStorage, StorageError, silentSink, type Parameters, type Runtime, type StorageBackend } from "@rtbackup/core";
import { AgentMetrics, registerMetricsRoute } from "@rtbackup/web";
import { agentParameters } from "./helpers/agentParameters.js";

interface Sample {
  value?: string;
  labels?: Record<string, string>;
  count?: string;
  sum?: string;
}
interface Family {
  name: string;
  type: string;
  metrics: Sample[];
}
const parsePrometheus = createRequire(import.meta.url)("parse-prometheus-text-format") as (text: string) => Family[];

/** Scrapes `/metrics` and parses the exposition; fails on a bad status, content type or text. */
async function scrape(app: FastifyInstance): Promise<Map<string, Family>> {
  const res = await app.inject({ method: "GET", url: "/metrics" });
  assert.is(res.statusCode, 200);
  assert.match(String(res.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
  const families = parsePrometheus(res.body);
  for (const f of families) assert.ok(["COUNTER", "GAUGE", "HISTOGRAM", "SUMMARY"].includes(f.type), `${f.name} has a type`);
  return new Map(families.map((f) => [f.name, f]));
}

/** The sum of the samples of `name` whose labels include `labels`. */
function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name);
  if (!family) throw new Error(`no metric ${name} in the exposition`);
  const matching = family.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return matching.reduce((sum, m) => sum + Number(m.value ?? m.count), 0);
}

interface Agent {
  dir: string;
  src: string;
  engine: Engine;
  runtime: Runtime;
  metrics: AgentMetrics;
  app: FastifyInstance;
}

/** A started engine with metrics and a fastify app serving them, on a temp tree removed afterwards. */
async function withAgent(
  options: { parameters?: Partial<Parameters>; storage?: (store: string) => StorageBackend; before?: (engine: Engine) => void },
  fn: (agent: Agent) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "rtb-web-metrics-"));
  let engine: Engine | undefined;
  let app: FastifyInstance | undefined;
  try {
    const src = join(dir, "src");
    await mkdir(src);
    const metrics = new AgentMetrics();
    engine = new Engine({
      parameters: { ...agentParameters(dir, src), ...options.parameters },
      log: { sink: silentSink },
      plugins: [metrics.plugin],
    });
    const storage = options.storage;
    if (storage) engine.hooks.storage.tap("TestStorage", () => storage(join(dir, "store")));
    options.before?.(engine);
    const runtime = await engine.start();
    metrics.attach(runtime);
    app = Fastify();
    registerMetricsRoute(app, metrics);
    await fn({ dir, src, engine, runtime, metrics, app });
  } finally {
    await app?.close();
    await engine?.stop({ drain: false });
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes files dated a minute ago (outside the racy window, so each is read once) and submits an update for each. */
async function changeFiles(agent: Agent, names: string[]): Promise<number> {
  const past = new Date(Date.now() - 60_000);
  let bytes = 0;
  for (const [i, name] of names.entries()) {
    const path = join(agent.src, name);
    const text = `content of ${name} `.repeat(i + 1);
    await writeFile(path, text);
    await utimes(path, past, past);
    bytes += Buffer.byteLength(text);
    agent.engine.submit({ type: "update", path });
  }
  return bytes;
}

test("the counters move as files are backed up", async () => {
  await withAgent({}, async (agent) => {
    const before = await scrape(agent.app);
    const names = ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"];
    const bytes = await changeFiles(agent, names);
    await agent.runtime.drain();
    const after = await scrape(agent.app);
    const delta = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
    assert.is(delta("rtb_events_total", { type: "update" }), names.length);
    assert.is(delta("rtb_files_queued_total", { action: "upload" }), names.length);
    assert.is(delta("rtb_files_uploaded_total"), names.length);
    assert.is(delta("rtb_records_committed_total", { op: "put" }), names.length);
    assert.is(delta("rtb_read_bytes_total"), bytes);
    assert.ok(delta("rtb_batches_committed_total") >= 1);
    assert.ok(delta("rtb_storage_calls_total", { kind: "put", class: "A" }) > 0, "storage puts are counted");
    assert.is(delta("rtb_upload_duration_seconds"), names.length, "one upload timing per file");
    assert.is(delta("rtb_close_to_commit_seconds"), names.length, "one close→commit timing per file");
    assert.is(value(after, "rtb_latency_tracked_paths", { histogram: "close_to_commit" }), 0, "nothing left tracked");
    assert.is(delta("rtb_state_cache_paths"), names.length);
    assert.is(value(after, "rtb_paused"), 0);
    const queues = after
      .get("rtb_queue_depth")!
      .metrics.map((m) => m.labels?.queue)
      .sort();
    assert.equal(queues, Object.keys(agent.runtime.stats().queues).sort());
    assert.ok(value(after, "rtb_process_resident_memory_bytes") > 0, "process metrics are collected");
  });
});

test("a scan is counted by reason, and its progress read from the stats", async () => {
  await withAgent({}, async (agent) => {
    await writeFile(join(agent.src, "scanned.txt"), "scanned");
    await agent.runtime.scan("request");
    await agent.runtime.drain();
    const after = await scrape(agent.app);
    assert.is(value(after, "rtb_scans_started_total", { reason: "request" }), 1);
    assert.is(value(after, "rtb_scans_finished_total", { reason: "request" }), 1);
    assert.is(value(after, "rtb_scan_running"), 0);
    assert.is(value(after, "rtb_scan_walked_paths"), agent.runtime.stats().rescan.walked);
    assert.ok(value(after, "rtb_scan_walked_paths") >= 1);
  });
});

/** A local store whose `put` fails while `failing.on` is set (every other method delegates, optional ones too). */
function failingPuts(failing: { on: boolean }) {
  return (store: string): StorageBackend => {
    const local = new LocalDirectoryStorage({ path: store });
    return {
      description: "failing-puts",
      put: async (key, body, size) => {
        if (failing.on) throw new StorageError("STORAGE_FAILED", "injected put failure", { key, transient: true });
        return local.put(key, body, size);
      },
      putNew: (...args) => local.putNew(...args),
      get: (...args) => local.get(...args),
      head: (...args) => local.head(...args),
      list: (...args) => local.list(...args),
      delete: (...args) => local.delete(...args),
      sync: () => local.sync(),
    };
  };
}

test("a failing storage is counted in failures_total by stage and reason, and in storage_errors_total", async () => {
  const failing = { on: false };
  let reported: () => void = () => undefined;
  const failed = new Promise<void>((resolve) => (reported = resolve));
  await withAgent(
    {
      // Format 1 stores each file's content at upload time, so a failed put fails the upload stage.
      parameters: { repositoryFormat: 1 },
      storage: failingPuts(failing),
      before: (engine) => engine.hooks.failure.tap("test", () => reported()),
    },
    async (agent) => {
      failing.on = true;
      await changeFiles(agent, ["doomed.txt"]);
      const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no failure reported within 10 s")), 10_000).unref());
      await Promise.race([failed, deadline]);
      const after = await scrape(agent.app);
      assert.ok(value(after, "rtb_failures_total", { stage: "upload", reason: "STORAGE_FAILED" }) >= 1, "failure by stage and reason");
      assert.ok(value(after, "rtb_storage_errors_total", { kind: "put", class: "A" }) >= 1, "storage error by kind and class");
      assert.is(value(after, "rtb_storage_errors_total", { kind: "head" }), 0);
      assert.is(value(after, "rtb_records_committed_total"), 0);
    },
  );
});

test("format 2: a store failing at commit is counted under stage commit (the batch is retried, never dropped)", async () => {
  const failing = { on: false };
  let reported: (path: string) => void = () => undefined;
  const failed = new Promise<string>((resolve) => (reported = resolve));
  await withAgent(
    {
      // Format 2 stores packs and the lane batch when it commits: a failed put fails the commit stage.
      parameters: { repositoryFormat: 2 },
      storage: failingPuts(failing),
      before: (engine) => engine.hooks.failure.tap("test", (f) => f.stage === "commit" && reported(f.path)),
    },
    async (agent) => {
      failing.on = true;
      try {
        await changeFiles(agent, ["held.txt"]);
        const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no commit failure reported within 10 s")), 10_000).unref());
        const what = await Promise.race([failed, deadline]);
        assert.match(what, /lane batch|pack/);
        const after = await scrape(agent.app);
        assert.ok(value(after, "rtb_failures_total", { stage: "commit", reason: "STORAGE_FAILED" }) >= 1, "commit failure by stage and reason");
        assert.ok(value(after, "rtb_commit_retries_total") >= 1);
      } finally {
        // The retried batch can then be stored, and the engine stop.
        failing.on = false;
      }
    },
  );
});

test("once the engine stops, /metrics still answers and the runtime gauges have no samples (no stale values)", async () => {
  await withAgent({}, async (agent) => {
    await changeFiles(agent, ["kept.txt"]);
    await agent.runtime.drain();
    assert.is(value(await scrape(agent.app), "rtb_state_cache_paths"), 1);
    await agent.engine.stop();
    const after = await scrape(agent.app);
    assert.equal(after.get("rtb_state_cache_paths")?.metrics ?? [], []);
    assert.equal(after.get("rtb_queue_depth")?.metrics ?? [], []);
    assert.is(value(after, "rtb_records_committed_total", { op: "put" }), 1, "the counters keep their values");
  });
});

test("before a runtime is attached the exposition is valid and the runtime gauges have no samples", async () => {
  const metrics = new AgentMetrics();
  const app = Fastify();
  try {
    registerMetricsRoute(app, metrics);
    const families = await scrape(app);
    for (const name of ["rtb_queue_depth", "rtb_paused", "rtb_state_cache_paths", "rtb_commit_retries_total"]) {
      assert.equal(families.get(name)?.metrics ?? [], [], `${name}: no sample`);
    }
    assert.is(value(families, "rtb_events_total"), 0);
    const head = await app.inject({ method: "HEAD", url: "/metrics" });
    assert.is(head.statusCode, 200);
    assert.is(metrics.contentType, String(head.headers["content-type"]));
  } finally {
    await app.close();
  }
});

test.run();
