// The status API on a running engine, over a real socket: the event stream stays open and carries the stats every
// 500 ms and each commit as it happens; the actions change the agent's state; the stream ends when the server closes.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { request, type IncomingMessage } from "node:http";
import { mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine, silentSink, type Logger } from "@rtbackup/core";
import { WebServer } from "@rtbackup/web";
import { agentParameters } from "./helpers/agentParameters.js";

const TOKEN = "status-events-test-token-0123";
const log: Logger = { name: "web", error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

/** Opens the event stream; collects its text until `stop()`. */
function listen(url: string): Promise<{ res: IncomingMessage; text: () => string; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/api/events`, { headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      const ended = new Promise<void>((done) => res.once("end", () => done()));
      resolve({ res, text: () => text, ended });
    });
    req.once("error", reject);
    req.end();
  });
}

const count = (text: string, event: string) => text.split("\n").filter((l) => l === `event: ${event}`).length;

test("the event stream stays open: stats every 500 ms, a commit as it happens, the end when the server closes", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-web-events-"));
  try {
    const src = join(dir, "src");
    await mkdir(src);
    const engine = new Engine({
      parameters: agentParameters(dir, src),
      log: { sink: silentSink },
    });
    const runtime = await engine.start();
    const server = await WebServer.start({ token: TOKEN, runtime, log });
    try {
      const stream = await listen(server.url);
      assert.is(stream.res.statusCode, 200);
      assert.match(String(stream.res.headers["content-type"]), /^text\/event-stream/);
      await new Promise((r) => setTimeout(r, 1700));
      assert.ok(count(stream.text(), "status") >= 3, `status events in 1.7 s: ${count(stream.text(), "status")}`);
      const path = join(src, "seen.txt");
      await writeFile(path, "seen\n");
      const past = new Date(Date.now() - 60_000);
      await utimes(path, past, past);
      engine.submit({ type: "update", path });
      const deadline = Date.now() + 10_000;
      while (!stream.text().includes(path) || count(stream.text(), "commit") === 0) {
        assert.ok(Date.now() < deadline, `no commit event for ${path}:\n${stream.text().slice(-500)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      // An action from the API shows in the stream too.
      const pause = await fetch(`${server.url}/api/pause`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "x-rtb-request": "1" } });
      assert.equal(await pause.json(), { paused: true, wasPaused: false });
      assert.ok(runtime.pipeline.paused);
      while (count(stream.text(), "paused") === 0) {
        assert.ok(Date.now() < deadline, "no paused event");
        await new Promise((r) => setTimeout(r, 20));
      }
      // The actions' checks are the bridge's: a bad path or a rescan outside the roots is a 400 naming it.
      const post = (url: string, body: unknown) =>
        fetch(`${server.url}${url}`, {
          method: "POST",
          headers: { authorization: `Bearer ${TOKEN}`, "x-rtb-request": "1", "content-type": "application/json" },
          body: JSON.stringify(body),
        });
      for (const [url, body, pattern] of [
        ["/api/check", { paths: ["relative/path"] }, /paths: expected normalised absolute paths/],
        ["/api/rescan", { roots: ["/etc"] }, /roots: \/etc is not under a backup root/],
        ["/api/unpause", { discard: "yes" }, /discard: expected true or false/],
      ] as const) {
        const res = await post(url, body);
        assert.is(res.status, 400, url);
        assert.match(((await res.json()) as { error: string }).error, pattern);
      }
      assert.equal(await (await post("/api/check", { paths: [path] })).json(), { submitted: 1, paused: true });
      await server.close();
      await stream.ended;
    } finally {
      await server.close().catch(() => undefined);
      await engine.stop({ drain: false });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
