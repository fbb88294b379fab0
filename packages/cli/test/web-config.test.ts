// The web settings: read from XML and refused with the element named; a token file others may read stops the daemon
// before it starts anything; MetricsEnabled alone serves /metrics and no page; `rtb web` serves a store without a
// daemon.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { chmod, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RTB, daemonWorkspace, rtb, send, startDaemon, stopDaemon } from "./helpers/daemon.js";
import { until, webUrlOf } from "./helpers/browser.js";

const xml = (body: string) => `<?xml version="1.0"?>\n<OperatingParameters>\n${body}</OperatingParameters>\n`;

test("config: the web elements are read from XML, and a bad one is named with its line", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-web-config-"));
  try {
    const good = join(dir, "good.xml");
    await writeFile(
      good,
      xml(
        "  <WebEnabled>true</WebEnabled>\n  <MetricsEnabled>true</MetricsEnabled>\n  <WebBindAddress>::1</WebBindAddress>\n  <WebPort>9999</WebPort>\n  <WebTokenFile>/etc/rtb/web-token</WebTokenFile>\n",
      ),
    );
    const ok = await rtb(["config", "check", good, "--print"]);
    assert.is(ok.code, 0, ok.stderr);
    const printed = (element: string) => new RegExp(`^${element} +(\\S+)$`, "m").exec(ok.stdout)?.[1];
    assert.is(printed("WebEnabled"), "true");
    assert.is(printed("MetricsEnabled"), "true");
    assert.is(printed("WebBindAddress"), "::1");
    assert.is(printed("WebPort"), "9999");
    assert.is(printed("WebTokenFile"), "/etc/rtb/web-token");
    for (const [element, value] of [
      ["WebPort", "70000"],
      ["WebBindAddress", "localhost"],
      ["WebEnabled", "maybe"],
      ["WebTokenFile", "relative/token"],
    ]) {
      const bad = join(dir, `bad-${element}.xml`);
      await writeFile(bad, xml(`  <${element}>${value}</${element}>\n`));
      const r = await rtb(["config", "check", bad]);
      assert.is(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`bad-${element}\\.xml:3: <${element}>`));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a web token file others may read stops the daemon before anything starts; a missing one is made with mode 0600", async () => {
  const ws = await daemonWorkspace({ webEnabled: true, webPort: 0 });
  try {
    const token = join(ws.dir, "ipc", "web-token");
    const first = await startDaemon(ws);
    await webUrlOf(first);
    assert.is((await stat(token)).mode & 0o777, 0o600);
    assert.is(await stopDaemon(first), 0);
    await chmod(token, 0o644);
    const run = await rtb(["run", "--config", ws.config], 15_000);
    assert.is(run.code, 2, run.stderr);
    assert.match(run.stderr, /WebTokenFile.*may be read by others \(mode 644\)/);
    assert.not.ok((await readdir(join(ws.dir, "ipc"))).includes("bridge.socket"), "the bridge never started");
  } finally {
    await ws.cleanup();
  }
});

test("MetricsEnabled alone: /metrics is served and counts the backup; the page and its API are not", async () => {
  const ws = await daemonWorkspace({ metricsEnabled: true, webPort: 0 });
  try {
    const daemon = await startDaemon(ws);
    const url = await webUrlOf(daemon);
    const path = join(ws.src, "one.txt");
    await writeFile(path, "one\n");
    await send(ws, [{ type: "update", path }]);
    const committed = await until("a put counted in /metrics", async () => {
      const text = await (await fetch(`${url}/metrics`)).text();
      const value = /^rtb_records_committed_total\{op="put"\} (\d+)/m.exec(text)?.[1];
      return value !== undefined && Number(value) >= 1 ? Number(value) : undefined;
    });
    assert.ok(committed >= 1);
    assert.is((await fetch(`${url}/`)).status, 404);
    assert.is((await fetch(`${url}/api/status`)).status, 404);
    assert.is(await stopDaemon(daemon), 0);
  } finally {
    await ws.cleanup();
  }
});

test("rtb web: the restore browser on a store, no daemon; its address carries the token, and without it /api/ is refused", async () => {
  const ws = await daemonWorkspace();
  try {
    await writeFile(join(ws.src, "kept.txt"), "kept\n");
    const backup = await rtb(["backup", ws.src, "--store", ws.store, "--state", join(ws.dir, "state"), "--quiet", "--no-progress"]);
    assert.is(backup.code, 0, backup.stderr);
    const child = spawn(process.execPath, [RTB, "web", "--store", ws.store, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    ws.children.add(child);
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d));
    child.stderr.on("data", (d: Buffer) => (out += d));
    const login = await until("the address on stdout", async () => /(http:\/\/127\.0\.0\.1:\d+)\/login\?token=(\S+)/.exec(out) ?? undefined);
    const [, url, token] = login;
    assert.is((await fetch(`${url}/api/browse/list?path=${encodeURIComponent(ws.src)}`)).status, 401);
    const list = await fetch(`${url}/api/browse/list?path=${encodeURIComponent(ws.src)}`, { headers: { authorization: `Bearer ${token}` } });
    assert.is(list.status, 200);
    const names = ((await list.json()) as { entries: { name: string }[] }).entries.map((e) => e.name);
    assert.equal(names, ["kept.txt"]);
    const file = await fetch(`${url}/api/browse/file?path=${encodeURIComponent(join(ws.src, "kept.txt"))}`, { headers: { authorization: `Bearer ${token}` } });
    assert.is(await file.text(), "kept\n");
    assert.is((await fetch(`${url}/api/status`, { headers: { authorization: `Bearer ${token}` } })).status, 404, "no agent: no status");
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.kill("SIGTERM");
    assert.is(await exited, 0);
  } finally {
    await ws.cleanup();
  }
});

test.run();
