// The hook side of AgentMetrics, driven by calling the engine's hooks directly with an injected clock: latency
// tracking (bounded, oldest dropped, stale expired), failure reasons, scans, options and the private registry.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createRequire } from "node:module";
import { register as globalRegistry } from "prom-client";
import { ConfigError, Engine, NativeError, PluginError, StorageError, silentSink, type IndexRecord } from "@rtbackup/core";
import { AgentMetrics, type AgentMetricsOptions } from "@rtbackup/web";

interface Family {
  name: string;
  metrics: { value?: string; count?: string; sum?: string; labels?: Record<string, string> }[];
}
const parsePrometheus = createRequire(import.meta.url)("parse-prometheus-text-format") as (text: string) => Family[];

/** An engine that is never started: only its hooks, with the metrics plugin tapped, on a manual millisecond clock. */
function harness(options: AgentMetricsOptions = {}) {
  const clock = { ms: 0 };
  const metrics = new AgentMetrics({ now: () => clock.ms, ...options });
  const engine = new Engine({ coreDefaults: false, log: { sink: silentSink }, plugins: [metrics.plugin] });
  const read = async () => new Map(parsePrometheus(await metrics.text()).map((f) => [f.name, f]));
  const one = async (name: string, labels: Record<string, string> = {}) => {
    const found = (await read()).get(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
    return { value: Number(found?.value ?? 0), count: Number(found?.count ?? 0), sum: Number(found?.sum ?? 0) };
  };
  const commit = (records: IndexRecord[]) => engine.hooks.commit.promise({ sequence: 1, key: "index/1", records });
  const update = (path: string) => engine.hooks.event.call({ type: "update", path });
  return { clock, metrics, engine, one, commit, update };
}

const put = (path: string): IndexRecord => ({ op: "put", path, type: "file", size: 1, mtimeMs: 0, mode: 0o100644, uid: 0, gid: 0, chunks: [] });

test("close→commit: timed from the first change of a path to the commit of its record", async () => {
  const h = harness();
  h.update("/a");
  h.clock.ms += 1000;
  h.update("/a"); // a second change before the commit: still timed from the first
  h.engine.hooks.event.call({ type: "move", from: "/old", to: "/b" });
  h.engine.hooks.event.call({ type: "delete", path: "/c" });
  h.engine.hooks.event.call({ type: "rescan", path: "/", reason: "overflow" });
  assert.is((await h.one("rtb_latency_tracked_paths", { histogram: "close_to_commit" })).value, 3, "a rescan is not timed");
  h.clock.ms += 2000;
  await h.commit([put("/a"), { op: "move", from: "/old", to: "/b" }, { op: "delete", path: "/c" }, put("/never-changed")]);
  const hist = await h.one("rtb_close_to_commit_seconds");
  assert.is(hist.count, 3);
  assert.is(hist.sum, 3 + 2 + 2);
  assert.is((await h.one("rtb_records_committed_total", { op: "put" })).value, 2);
  assert.is((await h.one("rtb_records_committed_total", { op: "move" })).value, 1);
  assert.is((await h.one("rtb_events_total", { type: "rescan" })).value, 1);
  assert.is((await h.one("rtb_latency_tracked_paths", { histogram: "close_to_commit" })).value, 0);
});

test("at most maxTrackedPaths are tracked: the oldest is dropped and counted", async () => {
  const h = harness({ maxTrackedPaths: 3 });
  for (const path of ["/1", "/2", "/3", "/4", "/5"]) h.update(path);
  assert.is((await h.one("rtb_latency_tracked_paths", { histogram: "close_to_commit" })).value, 3);
  assert.is((await h.one("rtb_latency_tracking_dropped_total", { histogram: "close_to_commit", reason: "overflow" })).value, 2);
  await h.commit(["/1", "/2", "/3", "/4", "/5"].map(put));
  assert.is((await h.one("rtb_close_to_commit_seconds")).count, 3, "only the paths still tracked are timed");
});

test("a change older than maxTrackedAgeMs is expired, not timed", async () => {
  const h = harness({ maxTrackedAgeMs: 60_000 });
  h.update("/excluded"); // never commits (a filter excluded it, its content was unchanged)
  h.clock.ms += 61_000;
  h.update("/fresh"); // starting a path expires the stale ones
  assert.is((await h.one("rtb_latency_tracking_dropped_total", { histogram: "close_to_commit", reason: "expired" })).value, 1);
  h.update("/late");
  h.clock.ms += 61_000;
  await h.commit([put("/excluded"), put("/late")]); // too old by its commit: expired too
  assert.is((await h.one("rtb_close_to_commit_seconds")).count, 0);
  assert.is((await h.one("rtb_latency_tracking_dropped_total", { histogram: "close_to_commit", reason: "expired" })).value, 2);
});

test("upload latency: uploadStarted → uploaded; a failed upload stops its timing; bytes are counted", async () => {
  const h = harness();
  h.engine.hooks.uploadStarted.call({ path: "/u", size: 10 });
  h.clock.ms += 250;
  h.engine.hooks.uploaded.call({ path: "/u", size: 10, bytesUploaded: 4 });
  h.engine.hooks.uploadStarted.call({ path: "/v", size: 5 });
  h.engine.hooks.failure.call({ path: "/v", stage: "upload", error: new Error("boom"), attempts: 1 });
  const hist = await h.one("rtb_upload_duration_seconds");
  assert.is(hist.count, 1);
  assert.is(hist.sum, 0.25);
  assert.is((await h.one("rtb_latency_tracked_paths", { histogram: "upload" })).value, 0);
  assert.is((await h.one("rtb_read_bytes_total")).value, 10);
  assert.is((await h.one("rtb_uploaded_bytes_total")).value, 4);
  assert.is((await h.one("rtb_files_uploaded_total")).value, 1);
});

const errno = (code: string) => Object.assign(new Error(`${code}: no such file, open '/home/someone/secret.txt'`), { code });
const reasons: [string, unknown, string][] = [
  ["a StorageError's code", new StorageError("STORAGE_FAILED", "put failed", { key: "data/ab" }), "STORAGE_FAILED"],
  ["a missing object", new StorageError("STORAGE_NOT_FOUND", "gone"), "STORAGE_NOT_FOUND"],
  ["a NativeError", new NativeError("fanotify_mark", 2, "ENOENT"), "NATIVE"],
  ["a plugin's failure", new PluginError("ZfsSnapshotPlugin", "snapshot", new Error("zfs: dataset busy")), "PLUGIN_FAILED"],
  ["an errno", errno("ENOENT"), "ENOENT"],
  ["a Node error code", errno("ERR_STREAM_PREMATURE_CLOSE"), "ERR_STREAM_PREMATURE_CLOSE"],
  ["a plain Error", new Error("something odd"), "other"],
  ["a code built from data", errno("/home/someone/secret.txt"), "other"],
  ["a lower-case code", errno("enoent"), "other"],
  ["a thrown string", "just a string", "other"],
  ["nothing", undefined, "other"],
];

test("failures are counted by stage and a bounded reason label, never the message", async () => {
  const h = harness();
  for (const [, error] of reasons) h.engine.hooks.failure.call({ path: "/p", stage: "snapshot", error, attempts: 1 });
  const family = (await h.metrics.text()).split("\n").filter((l) => l.startsWith("rtb_failures_total{"));
  for (const [what, , reason] of reasons) {
    const expected = reasons.filter(([, , r]) => r === reason).length;
    assert.is((await h.one("rtb_failures_total", { stage: "snapshot", reason })).value, expected, what);
  }
  assert.not.ok(
    family.some((l) => l.includes("secret") || l.includes("/p")),
    "no path or message in a label",
  );
});

test("scans are counted by reason, started and finished", async () => {
  const h = harness();
  h.engine.hooks.scan.call({ reason: "periodic", roots: ["/"], done: false });
  h.engine.hooks.scan.call({ reason: "periodic", roots: ["/"], done: true, changed: 3 });
  h.engine.hooks.scan.call({ reason: "overflow", roots: ["/"], done: false });
  assert.is((await h.one("rtb_scans_started_total", { reason: "periodic" })).value, 1);
  assert.is((await h.one("rtb_scans_finished_total", { reason: "periodic" })).value, 1);
  assert.is((await h.one("rtb_scans_started_total", { reason: "overflow" })).value, 1);
  assert.is((await h.one("rtb_scans_finished_total", { reason: "overflow" })).value, 0);
});

test("each instance has its own registry, never prom-client's global one; the prefix names every metric", async () => {
  const a = new AgentMetrics();
  const b = new AgentMetrics({ prefix: "agent_" });
  assert.is.not(a.registry, globalRegistry);
  assert.is(globalRegistry.getSingleMetric("rtb_events_total"), undefined);
  const names = parsePrometheus(await b.text()).map((f) => f.name);
  assert.ok(names.includes("agent_events_total") && names.includes("agent_process_resident_memory_bytes"));
  assert.ok(
    names.every((n) => n.startsWith("agent_")),
    names.find((n) => !n.startsWith("agent_")),
  );
});

test("bad options are ConfigErrors naming the option", () => {
  const bad: [AgentMetricsOptions, RegExp][] = [
    [{ prefix: "rtb-" }, /prefix/],
    [{ maxTrackedPaths: 0 }, /maxTrackedPaths/],
    [{ maxTrackedAgeMs: 1.5 }, /maxTrackedAgeMs/],
  ];
  for (const [options, message] of bad) {
    try {
      new AgentMetrics(options);
      assert.unreachable(`accepted ${JSON.stringify(options)}`);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.match((err as Error).message, message);
    }
  }
});

test.run();
