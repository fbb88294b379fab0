import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, Engine, StorageError, silentSink, type LogSink, type Parameters } from "@rtbackup/core";
import { WebhookNotifyPlugin } from "@rtbackup/example-webhook-notify";
import { startHookServer } from "./helpers/server.js";

async function workspace() {
  const dir = await mkdtemp(join(tmpdir(), "rtb-example-webhook-"));
  const src = join(dir, "src");
  await mkdir(src);
  await writeFile(join(src, "a.txt"), "a");
  await writeFile(join(src, "b.txt"), "b");
  const parameters: Partial<Parameters> = {
    storage: "local",
    localStoragePath: join(dir, "store"),
    remoteFileStateCachePath: join(dir, "state"),
    backupRoots: [src],
    batchUploadConsolidationDelay: 20,
    snapshotSharingWindow: 10,
    stagingDirectory: join(dir, "staging"),
    pathFilters: [],
  };
  return { dir, src, parameters, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

test("a path that keeps failing to upload is reported once, when its attempts reach the threshold", async () => {
  const ws = await workspace();
  const server = await startHookServer();
  const engine = new Engine({
    // Format v1, where each chunk is its own put: a v2 agent stores content in packs at commit time, so a store
    // that refuses them is a commit being retried (logged, counted), not one path's failed upload.
    parameters: { ...ws.parameters, repositoryFormat: 1 },
    log: { sink: silentSink },
    plugins: [new WebhookNotifyPlugin({ url: server.url, failureThreshold: 2, headers: { authorization: "Bearer t0k" } })],
  });
  // Storage that refuses the content of a.txt: its upload fails and is retried with backoff.
  engine.hooks.wrapStorage.tap("test", (backend) => ({
    description: backend.description,
    put: async (key, body, size) => {
      if (key.startsWith("data/") && size === 1 && body instanceof Uint8Array && Buffer.from(body).toString() === "a") {
        throw new StorageError("STORAGE_FAILED", "injected outage", { key, transient: true });
      }
      return backend.put(key, body, size);
    },
    get: (key, range) => backend.get(key, range),
    head: (key) => backend.head(key),
    list: (prefix) => backend.list(prefix),
    delete: (key) => backend.delete(key),
    sync: () => backend.sync?.() ?? Promise.resolve(),
    close: () => backend.close?.() ?? Promise.resolve(),
  }));
  try {
    const runtime = await engine.start();
    await runtime.scan("initial");
    await server.waitFor(1);
    await engine.stop({ drain: false });
    assert.is(server.requests.length, 1);
    const [request] = server.requests;
    assert.is(request!.method, "POST");
    assert.is(request!.path, "/hooks/secret-token");
    assert.is(request!.headers.authorization, "Bearer t0k");
    assert.is(request!.headers["content-type"], "application/json");
    const body = request!.body as Record<string, unknown>;
    assert.equal(
      { ...body, error: undefined },
      {
        event: "failure",
        host: hostname(),
        path: join(ws.src, "a.txt"),
        stage: "upload",
        attempts: 2,
        error: undefined,
        willRetry: true,
      },
    );
    assert.match(String(body.error), "injected outage");
  } finally {
    await engine.stop({ drain: false });
    await server.close();
    await ws.cleanup();
  }
});

test("a rescan that finds drift is reported; the initial backup and a clean rescan are not", async () => {
  const ws = await workspace();
  const server = await startHookServer();
  const engine = new Engine({ parameters: ws.parameters, log: { sink: silentSink }, plugins: [new WebhookNotifyPlugin({ url: server.url })] });
  try {
    const runtime = await engine.start();
    await engine.initialBackup();
    await runtime.scan("periodic");
    await writeFile(join(ws.src, "a.txt"), "changed behind our back");
    await rm(join(ws.src, "b.txt"));
    await runtime.scan("periodic");
    await runtime.drain();
    await engine.stop();
    // Drift: a.txt changed, b.txt deleted, and the root directory itself (its mtime moved with the delete).
    assert.equal(
      server.requests.map((r) => r.body),
      [{ event: "drift", host: hostname(), reason: "periodic", roots: [ws.src], changed: 3 }],
    );
  } finally {
    await engine.stop();
    await server.close();
    await ws.cleanup();
  }
});

test("a webhook server error is logged without the URL and never breaks the pipeline", async () => {
  const ws = await workspace();
  const server = await startHookServer();
  server.status = 500;
  const lines: string[] = [];
  const sink: LogSink = { write: (level, name, message) => lines.push(`${level} [${name}] ${message}`) };
  const engine = new Engine({ parameters: ws.parameters, log: { sink }, plugins: [new WebhookNotifyPlugin({ url: server.url })] });
  try {
    const runtime = await engine.start();
    await engine.initialBackup();
    await writeFile(join(ws.src, "c.txt"), "new");
    await runtime.scan("request");
    await engine.stop();
    assert.is(server.requests.length, 1);
    const warning = lines.find((l) => l.startsWith("warn [WebhookNotifyPlugin]"));
    assert.ok(warning, lines.join("\n"));
    assert.match(warning!, "answered 500");
    assert.not.ok(
      lines.some((l) => l.includes("secret-token")),
      "the URL leaked into the log",
    );
  } finally {
    await engine.stop();
    await server.close();
    await ws.cleanup();
  }
});

test("options are checked in the constructor, naming the option, without echoing the URL", () => {
  for (const [options, where] of [
    [undefined, "WebhookNotifyPlugin.options.url"],
    [["http://h/"], "WebhookNotifyPlugin.options"],
    [{}, "WebhookNotifyPlugin.options.url"],
    [{ url: "ftp://host/secret" }, "WebhookNotifyPlugin.options.url"],
    [{ url: "not a url secret" }, "WebhookNotifyPlugin.options.url"],
    [{ url: "http://h/", failureThreshold: 0 }, "WebhookNotifyPlugin.options.failureThreshold"],
    [{ url: "http://h/", notifyDrift: 1 }, "WebhookNotifyPlugin.options.notifyDrift"],
    [{ url: "http://h/", headers: { a: 1 } }, "WebhookNotifyPlugin.options.headers"],
    [{ url: "http://h/", headers: { authorization: "Bearer secret", n: 1 } }, "WebhookNotifyPlugin.options.headers"],
    [{ url: "http://h/", timeoutMs: 0 }, "WebhookNotifyPlugin.options.timeoutMs"],
    [{ url: "http://h/", threshold: 3 }, "WebhookNotifyPlugin.options.threshold"],
  ] as Array<[unknown, string]>) {
    try {
      new WebhookNotifyPlugin(options);
      assert.unreachable(`accepted ${JSON.stringify(options)}`);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.is((err as ConfigError).where, where);
      // Core says "a value that is not shown because it is a secret" instead of the value; nothing else may say it.
      assert.not.match((err as Error).message.replace("a value that is not shown because it is a secret", ""), "secret");
    }
  }
});

test("an unknown option is refused, naming it and the nearest known one", () => {
  try {
    new WebhookNotifyPlugin({ url: "http://h/", timeout: 5000 });
    assert.unreachable("accepted a misspelt option");
  } catch (err) {
    assert.instance(err, ConfigError);
    assert.is((err as ConfigError).where, "WebhookNotifyPlugin.options.timeout");
    assert.is(
      (err as Error).message,
      "WebhookNotifyPlugin.options.timeout: unknown option (did you mean timeoutMs?); known: url, failureThreshold, notifyDrift, headers, timeoutMs",
    );
  }
});

test.run();
