// examples/grafana/rtb-dashboard.json: a valid dashboard whose every query names metrics AgentMetrics exposes.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { AgentMetrics } from "@rtbackup/web";

interface Target {
  expr: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
}
interface Dashboard {
  schemaVersion: number;
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: unknown }[] };
}

// The test runs from packages/web/test (tsx) or packages/web/dist-test (compiled): both three levels below the root.
const dashboardPath = fileURLToPath(new URL("../../../examples/grafana/rtb-dashboard.json", import.meta.url));
const dashboard = JSON.parse(readFileSync(dashboardPath, "utf8")) as Dashboard;

/** Every metric name the registry exposes (a histogram as its _bucket, _sum and _count series). */
async function exposedNames(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const metric of await new AgentMetrics().registry.getMetricsAsJSON()) {
    if (String(metric.type) === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${metric.name}${suffix}`);
    else names.add(metric.name);
  }
  return names;
}

const metricNamesIn = (expr: string) => expr.match(/\brtb_[a-zA-Z0-9_:]+/g) ?? [];

test("the dashboard is a schema-39 dashboard with a Prometheus data source variable every panel uses", () => {
  assert.ok(dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 41, `schemaVersion ${dashboard.schemaVersion}`);
  assert.ok(dashboard.uid && dashboard.title);
  const variable = dashboard.templating.list.find((v) => v.type === "datasource");
  assert.ok(variable, "a datasource variable");
  assert.is(variable.query, "prometheus");
  const ref = new RegExp(`^\\$\\{?${variable.name}\\}?$`);
  const ids = new Set<number>();
  for (const panel of dashboard.panels) {
    assert.not.ok(ids.has(panel.id), `panel id ${panel.id} is unique`);
    ids.add(panel.id);
    assert.ok(panel.gridPos.w > 0 && panel.gridPos.h > 0 && panel.gridPos.x + panel.gridPos.w <= 24, `${panel.title}: grid position`);
    assert.ok(panel.targets && panel.targets.length > 0, `${panel.title}: has queries`);
    for (const ds of [panel.datasource, ...panel.targets.map((t) => t.datasource)]) {
      assert.is(ds?.type, "prometheus", `${panel.title}: prometheus data source`);
      assert.match(ds?.uid ?? "", ref, `${panel.title}: uses the data source variable`);
    }
  }
});

test("the dashboard has the panels the issue asks for", () => {
  const exprsOf = (title: string) => {
    const panel = dashboard.panels.find((p) => p.title === title);
    assert.ok(panel, `a panel "${title}"`);
    return panel.targets!.map((t) => t.expr).join("\n");
  };
  assert.match(exprsOf("Commit rate"), /rate\(rtb_records_committed_total/);
  assert.match(exprsOf("Close→commit latency"), /histogram_quantile\(0\.5, .*rtb_close_to_commit_seconds_bucket/);
  assert.match(exprsOf("Close→commit latency"), /histogram_quantile\(0\.99, .*rtb_close_to_commit_seconds_bucket/);
  assert.match(exprsOf("Upload latency"), /histogram_quantile\(0\.99, .*rtb_upload_duration_seconds_bucket/);
  assert.match(exprsOf("Queue depths"), /by \(queue\) \(rtb_queue_depth/);
  assert.match(exprsOf("Failures by stage"), /by \(stage.*rtb_failures_total/);
  assert.match(exprsOf("Storage calls by B2 class"), /by \(class\) .*rtb_storage_calls_total/);
  assert.match(exprsOf("Resident memory"), /rtb_process_resident_memory_bytes/);
  assert.match(exprsOf("State cache size"), /rtb_state_cache_paths/);
});

test("every metric name in the dashboard's queries is one the registry exposes", async () => {
  const exposed = await exposedNames();
  const variables = JSON.stringify(dashboard.templating);
  const exprs = [...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)), variables];
  for (const expr of exprs) {
    const names = metricNamesIn(expr);
    assert.ok(names.length > 0, `names a metric: ${expr.slice(0, 80)}`);
    for (const name of names) assert.ok(exposed.has(name), `${name} is exposed by AgentMetrics`);
  }
});

test.run();
