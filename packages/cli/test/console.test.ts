import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { chmod, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { daemonWorkspace, RTB, rtb, startDaemon, stopDaemon, writeConfig, type DaemonWorkspace } from "./helpers/daemon.js";

/** A workspace whose config puts the bridge in `<dir>/ipc`. */
async function bridgeWorkspace(extra: Record<string, unknown> = {}): Promise<DaemonWorkspace & { ipc: string }> {
  const ws = await daemonWorkspace();
  const ipc = join(ws.dir, "ipc");
  await writeConfig(ws.config, ws.dir, ws.socket, { ipcPath: ipc, ...extra });
  return Object.assign(ws, { ipc });
}

async function waitForFile(path: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await stat(path).catch(() => undefined))) {
    if (Date.now() > deadline) throw new Error(`${path} never appeared`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function until(cond: () => Promise<boolean> | boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `rtb console ... --json` against the workspace; returns the parsed lines. */
async function consoleJson(ws: DaemonWorkspace, args: string[]): Promise<Record<string, any>[]> {
  const r = await rtb(["console", ...args, "--json", "--config", ws.config], 30_000);
  assert.is(r.code, 0, `rtb console ${args.join(" ")}: ${r.stderr}`);
  return r.stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

test("every request through rtb console: stats, check, pause, unpause, rescan, status, cancel, watch; file modes", async () => {
  const ws = await bridgeWorkspace({ ipcUseTCPSocket: true });
  try {
    const daemon = await startDaemon(ws);
    const sock = join(ws.ipc, "bridge.socket");
    await waitForFile(join(ws.ipc, "bridge-tcp-port"));
    const st = await stat(sock);
    assert.ok(st.isSocket());
    assert.is(st.mode & 0o777, 0o600, "socket is owner-only");
    assert.is(st.uid, process.getuid!());
    assert.is((await stat(join(ws.ipc, "bridge-token"))).mode & 0o777, 0o600, "token is root-only");
    assert.match((daemon as unknown as { log(): string }).log(), new RegExp(`bridge listening on ${sock}`));

    const human = await rtb(["console", "stats", "--uploads", "--connect", sock]);
    assert.is(human.code, 0, human.stderr);
    assert.match(human.stdout, /Queues\n\s+intake\s+0/);
    assert.match(human.stdout, /Uploads in progress: 0/);

    // A file checked through the console gets backed up; a watcher sees it happen.
    const watch = spawn(process.execPath, [RTB, "console", "watch", "--json", "--count", "2", "--config", ws.config], { stdio: ["ignore", "pipe", "pipe"] });
    ws.children.add(watch);
    let watchOut = "";
    let watchErr = "";
    watch.stdout.on("data", (d) => (watchOut += d));
    watch.stderr.on("data", (d) => (watchErr += d));
    const watchExit = new Promise((r) => watch.on("close", r));
    await until(() => /watching notifications/.test(watchErr), "watch to subscribe");
    const file = join(ws.src, "note.txt");
    await writeFile(file, "remember");
    const [submitted] = await consoleJson(ws, ["check", file]);
    assert.equal(submitted, { path: file });
    assert.is(await watchExit, 0, watchErr);
    const notes = watchOut
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(
      notes.map((n) => [n.kind, n.path]),
      [
        ["uploadStarted", file],
        ["uploaded", file],
      ],
    );
    await until(async () => (await consoleJson(ws, ["stats"]))[0]!.totals.filesUploaded >= 1, "upload counted in stats");

    // Pause buffers; unpause processes what was buffered, or discards it with --discard.
    assert.equal((await consoleJson(ws, ["pause"]))[0], { paused: true, wasPaused: false });
    assert.is((await consoleJson(ws, ["stats"]))[0]!.paused, true);
    await writeFile(file, "changed while paused");
    await consoleJson(ws, ["check", file]);
    assert.is((await consoleJson(ws, ["stats"]))[0]!.queues.bufferedWhilePaused, 1);
    const unpaused = (await consoleJson(ws, ["unpause"]))[0]!;
    assert.equal([unpaused.wasPaused, unpaused.processed, unpaused.discarded], [true, 1, 0]);
    await consoleJson(ws, ["pause"]);
    await consoleJson(ws, ["check", join(ws.src, "gone.txt")]);
    const discarded = (await consoleJson(ws, ["unpause", "--discard"]))[0]!;
    assert.equal([discarded.processed, discarded.discarded], [0, 1]);

    // Rescans: request, follow to the end, cancel when none runs.
    await writeFile(join(ws.src, "found-by-rescan.txt"), "x");
    const requested = (await consoleJson(ws, ["rescan"]))[0]!;
    assert.is(requested.requested, true);
    await until(async () => {
      const s = (await consoleJson(ws, ["rescan-status", "--follow", "--interval", "200"])).at(-1)!;
      return !s.running && s.last?.reason === "request" && s.number >= requested.number;
    }, "the requested rescan to finish");
    assert.equal((await consoleJson(ws, ["cancel-rescan"]))[0], { cancelled: false });
    await until(async () => (await consoleJson(ws, ["stats"]))[0]!.stateCache.paths >= 3, "rescan's file backed up");

    // Repeated stats, XML, TCP with the token, human output of the other commands.
    const repeated = await consoleJson(ws, ["stats", "--repeat", "--count", "2", "--interval", "50"]);
    assert.is(repeated.length, 2);
    const xml = await rtb(["console", "stats", "--xml", "--config", ws.config]);
    assert.match(xml.stdout, /^<\?xml[^>]*>\n<RTBOutput>\n {2}<Statistics TimestampUTC="[^"]+">\n[\s\S]*<Queues>[\s\S]*<\/Statistics>\n<\/RTBOutput>\n$/);
    const port = (await readFile(join(ws.ipc, "bridge-tcp-port"), "utf8")).trim();
    const tcp = await rtb(["console", "pause", "--connect", `127.0.0.1:${port}`, "--config", ws.config]);
    assert.equal([tcp.code, tcp.stdout], [0, "monitoring paused\n"], tcp.stderr);
    const badToken = join(ws.dir, "bad-token");
    await writeFile(badToken, "0".repeat(64));
    const refused = await rtb(["console", "stats", "--connect", `127.0.0.1:${port}`, "--token-file", badToken]);
    assert.is(refused.code, 1);
    assert.match(refused.stderr, /wrong token/);
    const un = await rtb(["console", "unpause", "--connect", sock]);
    assert.match(un.stdout, /monitoring unpaused: 0 buffered paths processed, 0 discarded/);
    const usage = await rtb(["console", "frobnicate", "--connect", sock]);
    assert.is(usage.code, 2);

    assert.is(await stopDaemon(daemon), 0);
    assert.not.ok(await stat(sock).catch(() => undefined), "socket removed at exit");
    assert.not.ok(await stat(join(ws.ipc, "bridge-token")).catch(() => undefined), "token removed at exit");
  } finally {
    await ws.cleanup();
  }
});

test("TCP only: the console finds the port and the token from the configuration; no UNIX socket is made", async () => {
  const ws = await bridgeWorkspace({ ipcUseUNIXSocket: false, ipcUseTCPSocket: true });
  try {
    const daemon = await startDaemon(ws);
    await waitForFile(join(ws.ipc, "bridge-tcp-port"));
    assert.not.ok(await stat(join(ws.ipc, "bridge.socket")).catch(() => undefined));
    const [paused] = await consoleJson(ws, ["pause"]);
    assert.equal(paused, { paused: true, wasPaused: false });
    const [stats] = await consoleJson(ws, ["stats"]);
    assert.is(stats!.paused, true);
    assert.is(await stopDaemon(daemon), 0);
  } finally {
    await ws.cleanup();
  }
});

/** Runs the console as nobody:nogroup with no supplementary groups. */
function asNobody(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, RTB, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function ensureSetpriv(): void {
  if (spawnSync("setpriv", ["--version"]).status === 0) return;
  if (process.getuid?.() !== 0) throw new Error("setpriv (util-linux) is missing and only root can install it");
  spawnSync("apt-get", ["install", "-y", "util-linux"], { stdio: "inherit" });
}

test("a non-root client is refused by the socket's mode and cannot read the TCP token; a configured group is let in", async () => {
  ensureSetpriv();
  const ws = await bridgeWorkspace({ ipcUseTCPSocket: true });
  try {
    // Let nobody reach the socket, so only the socket's own mode stands in its way.
    await chmod(ws.dir, 0o755);
    const daemon = await startDaemon(ws);
    const sock = join(ws.ipc, "bridge.socket");
    await waitForFile(join(ws.ipc, "bridge-tcp-port"));
    const denied = await asNobody(["console", "stats", "--connect", sock]);
    assert.is(denied.code, 1, denied.stdout);
    assert.match(denied.stderr, /permission denied/);
    const port = (await readFile(join(ws.ipc, "bridge-tcp-port"), "utf8")).trim();
    const noToken = await asNobody(["console", "stats", "--connect", `127.0.0.1:${port}`, "--token-file", join(ws.ipc, "bridge-token")]);
    assert.is(noToken.code, 2);
    assert.match(noToken.stderr, /permission denied/);
    assert.is((await rtb(["console", "stats", "--connect", sock])).code, 0, "root is let in");
    assert.is(await stopDaemon(daemon), 0);

    // With a group the socket is 0660: a member gets in (proof that the refusal above was the mode's doing).
    ws.children.clear();
    const child = spawn(process.execPath, [RTB, "run", "--config", ws.config], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, RTB_BRIDGE_GROUP: "nogroup" },
    });
    ws.children.add(child);
    let log = "";
    child.stderr.on("data", (d) => (log += d));
    await until(() => /bridge listening/.test(log), "grouped daemon to listen");
    const st = await stat(sock);
    assert.equal([st.mode & 0o777, st.gid], [0o660, 65534]);
    const member = await asNobody(["console", "stats", "--json", "--connect", sock]);
    assert.is(member.code, 0, member.stderr);
    assert.ok(JSON.parse(member.stdout).time);
    assert.is(await stopDaemon(child), 0);
  } finally {
    await ws.cleanup();
  }
});

test.run();
