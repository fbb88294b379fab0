import { test } from "uvu";
import * as assert from "uvu/assert";
import { connect, createServer } from "node:net";
import { link, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BridgeClient,
  BridgeRequestError,
  BridgeServer,
  Engine,
  FrameDecoder,
  encodeFrame,
  silentSink,
  type BridgeNotification,
  type BridgeServerOptions,
} from "@rtbackup/core";

async function setup(options: BridgeServerOptions = {}) {
  const dir = await mkdtemp(join(tmpdir(), "rtb-bridge-"));
  const src = join(dir, "src");
  await mkdir(src);
  const engine = new Engine({
    parameters: {
      storage: "local",
      localStoragePath: join(dir, "store"),
      remoteFileStateCachePath: join(dir, "state"),
      stagingDirectory: join(dir, "staging"),
      backupRoots: [src],
      snapshotSharingWindow: 20,
      batchUploadConsolidationDelay: 20,
      ipcPath: join(dir, "ipc"),
    },
    log: { sink: silentSink },
  });
  const runtime = await engine.start();
  const bridge = new BridgeServer(runtime, options);
  try {
    await bridge.listen();
  } catch (err) {
    await engine.stop({ drain: false });
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    src,
    engine,
    runtime,
    bridge,
    async cleanup() {
      await bridge.close();
      await engine.stop({ drain: false });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A raw connection that collects decoded frames and knows when it was closed. */
function raw(path: string) {
  const socket = connect(path);
  const decoder = new FrameDecoder(16 * 1024 * 1024);
  const frames: Record<string, unknown>[] = [];
  let closed = false;
  socket.on("data", (d: Buffer) => {
    for (const f of decoder.push(d)) if ("payload" in f) frames.push(JSON.parse(f.payload.toString()));
  });
  socket.on("close", () => (closed = true));
  socket.on("error", () => undefined);
  return { socket, frames, closed: () => closed, ready: new Promise((r) => socket.once("connect", r)) };
}

async function rejects(p: Promise<unknown>, check: (e: unknown) => boolean, what: string): Promise<void> {
  let error: unknown;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  assert.ok(error !== undefined && check(error), `${what}: got ${String(error)}`);
}

function frameOf(text: string): Buffer {
  const body = Buffer.from(text);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

test("FrameDecoder: frames split across chunks, several per chunk, and an oversized prefix", () => {
  const d = new FrameDecoder(100);
  const all = Buffer.concat([encodeFrame({ a: 1 }), encodeFrame({ b: "two" }), encodeFrame([])]);
  const out: string[] = [];
  for (let i = 0; i < all.length; i += 3) for (const f of d.push(all.subarray(i, i + 3))) if ("payload" in f) out.push(f.payload.toString());
  assert.equal(out, ['{"a":1}', '{"b":"two"}', "[]"]);
  assert.is(d.buffered, 0);
  const trickled: string[] = [];
  const bytes = Buffer.concat([Buffer.alloc(4), encodeFrame({ c: 3 })]);
  for (const b of bytes) for (const f of d.push(Buffer.from([b]))) if ("payload" in f) trickled.push(f.payload.toString());
  assert.equal(trickled, ["", '{"c":3}'], "an empty frame, then one fed a byte at a time");
  const big = Buffer.alloc(4);
  big.writeUInt32BE(101);
  assert.equal(d.push(big), [{ tooLarge: 101 }]);
  assert.equal(d.push(encodeFrame({})), [], "nothing after a bad prefix: the stream cannot be trusted");
});

test("socket is 0600, token 0600; requests work; notifications report uploads, scans and pause state", async () => {
  const t = await setup({ useTcpSocket: true });
  try {
    const sock = await stat(join(t.dir, "ipc", "bridge.socket"));
    assert.ok(sock.isSocket());
    assert.is(sock.mode & 0o777, 0o600);
    assert.is(sock.uid, process.getuid!());
    assert.is((await stat(t.bridge.tokenPath)).mode & 0o777, 0o600);
    assert.is(Number((await readFile(join(t.dir, "ipc", "bridge-tcp-port"), "utf8")).trim()), t.bridge.tcpPort);

    const client = await BridgeClient.connect({ path: t.bridge.socketPath! });
    const watcher = await BridgeClient.connect({ path: t.bridge.socketPath! });
    const seen: BridgeNotification[] = [];
    watcher.onNotification((n) => seen.push(n));
    await watcher.request("subscribe");

    const file = join(t.src, "a.txt");
    await writeFile(file, "hello");
    assert.equal(await client.request("check", { paths: [file] }), { submitted: 1, paused: false });
    await until(() => seen.some((n) => n.kind === "uploaded" && n.path === file), "uploaded notification");
    assert.ok(seen.some((n) => n.kind === "uploadStarted" && n.path === file));

    assert.equal(await client.request("pause"), { paused: true, wasPaused: false });
    assert.is((await client.request("stats")).paused, true);
    await writeFile(join(t.src, "b.txt"), "b");
    await client.request("check", { paths: [join(t.src, "b.txt")] });
    const un = await client.request("unpause", { discard: true });
    assert.equal(un, { paused: false, wasPaused: true, processed: 0, discarded: 1 });
    await until(() => seen.some((n) => n.kind === "unpaused"), "unpaused notification");
    assert.ok(seen.some((n) => n.kind === "paused"));

    const r = await client.request("rescan");
    assert.is(r.requested, true);
    await until(() => seen.some((n) => n.kind === "scanFinished" && n.reason === "request"), "scan finished");
    const status = await client.request("rescanStatus");
    assert.is(status.running, false);
    assert.is(status.last?.reason, "request");
    assert.ok((status.last?.changed ?? 0) >= 1, "the rescan found b.txt, whose event was discarded");
    await until(() => t.runtime.cache.get(join(t.src, "b.txt")) !== undefined, "b.txt backed up by the rescan");
    assert.equal(await client.request("cancelRescan"), { cancelled: false });
    await rejects(
      client.request("rescan", { roots: [`${t.src}/../..`] }),
      (e) => e instanceof BridgeRequestError && e.code === "BAD_REQUEST",
      "rescan of a non-normalised path",
    );
    await rejects(
      client.request("rescan", { roots: ["/etc"] }),
      (e) => e instanceof BridgeRequestError && e.code === "BAD_REQUEST",
      "rescan outside the roots",
    );
    assert.is((await client.request("rescan", { roots: [t.src] })).requested, true);
    const seqs = seen.map((n) => n.seq);
    assert.equal(
      seqs,
      [...seqs].sort((a, b) => a - b),
      "sequence numbers grow",
    );

    const stats = await client.request("stats", { includeUploads: true });
    assert.ok(stats.totals.filesUploaded >= 2);
    assert.not.match(JSON.stringify(stats), /token/i);
    client.close();
    watcher.close();
  } finally {
    await t.cleanup();
  }
  assert.not.ok(await stat(join(t.dir, "ipc", "bridge.socket")).catch(() => undefined), "files removed on close");
});

test("bad input gets an error reply or a closed connection; other clients carry on", async () => {
  const t = await setup();
  try {
    const good = await BridgeClient.connect({ path: t.bridge.socketPath! });
    const c = raw(t.bridge.socketPath!);
    await c.ready;
    c.socket.write(frameOf("not json"));
    c.socket.write(frameOf('{"v":1,"id":7,"type":"nope"}'));
    c.socket.write(frameOf('{"v":1,"id":8,"type":"check","paths":["relative"]}'));
    c.socket.write(frameOf('{"v":99,"id":9,"type":"stats"}'));
    c.socket.write(frameOf('{"v":1,"type":"stats"}'));
    c.socket.write(frameOf('{"v":1,"id":"ok","type":"stats"}'));
    await until(() => c.frames.length === 6, "six replies");
    const codes = c.frames.map((f) => (f["ok"] ? "ok" : (f["error"] as { code: string }).code));
    assert.equal(codes, ["BAD_FRAME", "UNKNOWN_TYPE", "BAD_REQUEST", "UNSUPPORTED_VERSION", "BAD_REQUEST", "ok"]);
    assert.equal(
      c.frames.map((f) => f["id"]),
      [null, 7, 8, 9, null, "ok"],
    );
    assert.not.ok(c.closed());

    const huge = raw(t.bridge.socketPath!);
    await huge.ready;
    huge.socket.write(Buffer.from([0xff, 0xff, 0xff, 0xf0, 1, 2, 3]));
    await until(() => huge.closed(), "connection closed after a huge length prefix");
    assert.is((huge.frames[0]?.["error"] as { code: string }).code, "BAD_FRAME");

    assert.ok((await good.request("stats")).time, "a well-formed client still gets answers");
    await rejects(good.request("check", { paths: [] }), (e) => e instanceof BridgeRequestError && e.code === "BAD_REQUEST", "empty check");
    c.socket.destroy();
    good.close();
  } finally {
    await t.cleanup();
  }
});

test("a subscriber that never reads is dropped once its queue is over the limit; others are unaffected", async () => {
  const t = await setup({ limits: { maxQueuedBytes: 64 * 1024 } });
  try {
    const slow = raw(t.bridge.socketPath!);
    await slow.ready;
    slow.socket.pause();
    slow.socket.write(frameOf('{"v":1,"id":1,"type":"subscribe"}'));
    await until(() => t.bridge.clientCount === 1, "slow client connected");
    const client = await BridgeClient.connect({ path: t.bridge.socketPath! });
    const bigPaths = Array.from({ length: 200 }, (_, i) => join(t.src, `${"x".repeat(200)}-${i}`));
    for (let i = 0; i < 2000 && t.bridge.clientCount > 1; i++) {
      await client.request("pause");
      await client.request("check", { paths: bigPaths });
      await client.request("unpause", { discard: true });
    }
    assert.is(t.bridge.clientCount, 1, "the slow client was dropped");
    assert.ok((await client.request("stats")).time);
    client.close();
    slow.socket.destroy();
  } finally {
    await t.cleanup();
  }
});

test("a client that floods requests without reading is paused, then dropped; one that pipelines and reads is served", async () => {
  const t = await setup({ limits: { stallTimeoutMs: 300 } });
  try {
    const fast = await BridgeClient.connect({ path: t.bridge.socketPath! });
    const answers = await Promise.all(Array.from({ length: 5000 }, () => fast.request("stats")));
    assert.is(answers.length, 5000, "5,000 pipelined requests (megabytes of replies) all answered");
    const flood = raw(t.bridge.socketPath!);
    await flood.ready;
    flood.socket.pause();
    const ask = encodeFrame({ v: 1, id: 1, type: "stats" });
    for (let i = 0; i < 5000; i++) flood.socket.write(ask);
    await until(() => t.bridge.clientCount === 1, "the flooding client to be dropped");
    assert.ok((await fast.request("stats")).time);
    flood.socket.destroy();
    fast.close();
  } finally {
    await t.cleanup();
  }
});

test("TCP needs the token: no hello or a wrong token closes the connection; silence times out", async () => {
  const t = await setup({ useUnixSocket: false, useTcpSocket: true, limits: { authTimeoutMs: 300 } });
  try {
    const port = t.bridge.tcpPort!;
    const token = (await readFile(t.bridge.tokenPath, "utf8")).trim();
    await rejects(
      BridgeClient.connect({ host: "127.0.0.1", port, token: "wrong" }),
      (e) => e instanceof BridgeRequestError && e.code === "AUTH_FAILED",
      "wrong token",
    );
    const anon = connect(port, "127.0.0.1");
    const replies: Buffer[] = [];
    anon.on("data", (d: Buffer) => replies.push(d));
    const closed = new Promise((r) => anon.on("close", r));
    anon.write(encodeFrame({ v: 1, id: 1, type: "stats" }));
    await closed;
    assert.match(Buffer.concat(replies).toString(), /AUTH_REQUIRED/);
    const silent = connect(port, "127.0.0.1");
    await new Promise((r) => silent.on("close", r));
    const client = await BridgeClient.connect({ host: "127.0.0.1", port, token });
    assert.ok((await client.request("stats")).time);
    client.close();
  } finally {
    await t.cleanup();
  }
});

test("a stale socket is replaced; a live one is not taken over; a group makes it 0660", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-bridge-stale-"));
  const ipc = join(dir, "ipc");
  await mkdir(ipc);
  const server = createServer(() => undefined);
  await new Promise<void>((r) => server.listen(join(dir, "live.sock"), r));
  await link(join(dir, "live.sock"), join(ipc, "bridge.socket"));
  let t: Awaited<ReturnType<typeof setup>> | undefined;
  try {
    await rejects(setup({ ipcPath: ipc }), (e) => (e as { code?: string }).code === "LOCKED", "a live socket must not be replaced");
    await new Promise((r) => server.close(r));
    // The hard link still names the socket, which nobody listens on now: stale.
    t = await setup({ ipcPath: ipc, group: "nogroup" });
    const st = await stat(join(ipc, "bridge.socket"));
    assert.is(st.mode & 0o777, 0o660);
    assert.is(st.gid, 65534);
    const client = await BridgeClient.connect({ path: join(ipc, "bridge.socket") });
    assert.ok((await client.request("stats")).time);
    client.close();
  } finally {
    await t?.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
});

test("clients over maxUnixClients are closed at once", async () => {
  const t = await setup({ maxUnixClients: 2 });
  try {
    const a = await BridgeClient.connect({ path: t.bridge.socketPath! });
    const b = await BridgeClient.connect({ path: t.bridge.socketPath! });
    const c = raw(t.bridge.socketPath!);
    await until(() => c.closed(), "third client closed");
    assert.ok((await a.request("stats")).time);
    a.close();
    b.close();
  } finally {
    await t.cleanup();
  }
});

test.run();
