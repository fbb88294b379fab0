import { test } from "uvu";
import * as assert from "uvu/assert";
import { connect, type Socket } from "node:net";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BridgeClient,
  BridgeServer,
  ConfigError,
  Engine,
  FrameDecoder,
  REDACTED,
  encodeFrame,
  processSecrets,
  silentSink,
  type BridgeServerOptions,
  type Runtime,
} from "@rtbackup/core";

async function setup(options: BridgeServerOptions = {}) {
  const dir = await mkdtemp(join(tmpdir(), "rtb-bridge-limits-"));
  await mkdir(join(dir, "src"));
  const engine = new Engine({
    parameters: {
      storage: "local",
      localStoragePath: join(dir, "store"),
      remoteFileStateCachePath: join(dir, "state"),
      stagingDirectory: join(dir, "staging"),
      backupRoots: [join(dir, "src")],
      ipcPath: join(dir, "ipc"),
    },
    log: { sink: silentSink },
  });
  const sockets: Socket[] = [];
  let runtime: Runtime | undefined;
  let bridge: BridgeServer | undefined;
  const cleanup = async () => {
    for (const s of sockets) s.destroy();
    await bridge?.close();
    if (runtime) await engine.stop({ drain: false });
    await rm(dir, { recursive: true, force: true });
  };
  try {
    runtime = await engine.start();
    bridge = new BridgeServer(runtime, { useUnixSocket: true, useTcpSocket: true, ...options });
    await bridge.listen();
  } catch (err) {
    await cleanup();
    throw err;
  }
  const server = bridge;
  return { dir, runtime, bridge: server, cleanup, sockets, token: async () => (await readFile(server.tokenPath, "utf8")).trim() };
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Opens `n` raw TCP connections that never say anything; returns how many have been closed by the server. */
async function silentClients(t: Awaited<ReturnType<typeof setup>>, n: number): Promise<() => number> {
  let closed = 0;
  const before = t.bridge.clientCount;
  for (let i = 0; i < n; i++) {
    const s = connect(t.bridge.tcpPort!, "127.0.0.1");
    s.on("error", () => undefined);
    s.on("close", () => closed++);
    t.sockets.push(s);
  }
  // Every connection was either accepted and is held, or refused and closed.
  await until(() => closed + t.bridge.clientCount - before === n, "the server to accept or refuse every connection");
  return () => closed;
}

test("TCP clients that never authenticate cannot lock root out of the UNIX socket, and are dropped at the 3 s deadline", async () => {
  const t = await setup();
  try {
    const started = Date.now();
    const closed = await silentClients(t, 80);
    assert.equal(t.bridge.clientCounts, { unix: 0, tcp: 8, unauthenticated: 8 });
    assert.is(closed(), 72);
    assert.ok(t.bridge.refusedClients >= 72);
    const root = await BridgeClient.connect({ path: t.bridge.socketPath! });
    try {
      assert.ok((await root.request("stats")).time, "root is answered on the UNIX socket");
      await until(() => closed() === 80, "the unauthenticated clients to be dropped", 6000);
      const held = Date.now() - started;
      assert.ok(held >= 2500 && held < 5000, `unauthenticated clients were held ${held} ms (deadline 3,000 ms)`);
      assert.equal(t.bridge.clientCounts, { unix: 1, tcp: 0, unauthenticated: 0 });
      assert.ok((await root.request("stats")).time, "root is still answered");
    } finally {
      root.close();
    }
  } finally {
    await t.cleanup();
  }
});

test("an authenticated TCP client no longer counts against the unauthenticated budget; maxTcpClients bounds all", async () => {
  const t = await setup({ maxUnauthenticatedTcpClients: 2, maxTcpClients: 4, limits: { authTimeoutMs: 400 } });
  try {
    const token = await t.token();
    const clients = [];
    for (let i = 0; i < 4; i++) clients.push(await BridgeClient.connect({ host: "127.0.0.1", port: t.bridge.tcpPort!, token }));
    assert.equal(t.bridge.clientCounts, { unix: 0, tcp: 4, unauthenticated: 0 });
    const closed = await silentClients(t, 3);
    assert.is(closed(), 3, "a fifth TCP client is over maxTcpClients");
    clients.pop()!.close();
    clients.pop()!.close();
    await until(() => t.bridge.clientCounts.tcp === 2, "two clients to leave");
    const started = Date.now();
    const closedLater = await silentClients(t, 3);
    assert.is(closedLater(), 1, "only two may wait unauthenticated");
    await until(() => closedLater() === 3, "the silent clients to time out", 3000);
    assert.ok(Date.now() - started >= 350, "dropped at the deadline, not before");
    for (const c of clients) assert.ok((await c.request("stats")).time);
    for (const c of clients) c.close();
  } finally {
    await t.cleanup();
  }
});

test("bad limits are ConfigErrors naming the option", async () => {
  const t = await setup({ useTcpSocket: false });
  try {
    const cases: [BridgeServerOptions, RegExp][] = [
      [{ maxUnixClients: 0 }, /BridgeServer\.options\.maxUnixClients: expected a positive integer, got 0/],
      [{ maxTcpClients: 1.5 }, /BridgeServer\.options\.maxTcpClients: expected a positive integer, got 1\.5/],
      [{ maxUnauthenticatedTcpClients: -1 }, /BridgeServer\.options\.maxUnauthenticatedTcpClients/],
      [{ limits: { authTimeoutMs: Number.NaN } }, /BridgeServer\.options\.limits\.authTimeoutMs/],
    ];
    for (const [options, message] of cases) {
      try {
        new BridgeServer(t.runtime, options);
        assert.unreachable(`${JSON.stringify(options)} must be refused`);
      } catch (err) {
        assert.instance(err, ConfigError);
        assert.match((err as Error).message, message);
      }
    }
  } finally {
    await t.cleanup();
  }
});

test("bridge replies are redacted against the secret registry", async () => {
  const t = await setup({ useTcpSocket: false });
  const secret = `bridge-secret-${Date.now()}`;
  const s = connect(t.bridge.socketPath!);
  t.sockets.push(s);
  try {
    processSecrets.add(secret);
    const decoder = new FrameDecoder(1024 * 1024);
    const frames: string[] = [];
    s.on("data", (d: Buffer) => {
      for (const f of decoder.push(d)) if ("payload" in f) frames.push(f.payload.toString());
    });
    s.write(encodeFrame({ v: 1, id: 1, type: `x${secret}` }));
    await until(() => frames.length === 1, "the reply");
    assert.match(frames[0]!, /UNKNOWN_TYPE/);
    assert.ok(frames[0]!.includes(REDACTED), frames[0]);
    assert.not.ok(frames[0]!.includes(secret), frames[0]);
  } finally {
    await t.cleanup();
  }
});

test.run();
