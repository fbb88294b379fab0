import { spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const RTB = resolve(here, "..", "..", "bin", "rtb.js");
export const FIXTURES = resolve(here, "..", "fixtures");

/** A temp workspace for daemon tests; `cleanup` kills what it started and removes everything. */
export interface DaemonWorkspace {
  dir: string;
  src: string;
  store: string;
  socket: string;
  config: string;
  children: Set<ChildProcess>;
  cleanup(): Promise<void>;
}

export async function daemonWorkspace(extraParameters: Record<string, unknown> = {}, extraPlugins: unknown[] = []): Promise<DaemonWorkspace> {
  const dir = await mkdtemp(join(tmpdir(), "rtb-daemon-"));
  const src = join(dir, "src");
  await mkdir(src);
  const socket = join(dir, "source.sock");
  const config = join(dir, "rtb.config.json");
  const children = new Set<ChildProcess>();
  await writeConfig(config, dir, socket, extraParameters, extraPlugins);
  return {
    dir,
    src,
    store: join(dir, "store"),
    socket,
    config,
    children,
    async cleanup() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
      await Promise.all([...children].map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once("exit", r)) : undefined)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function writeConfig(config: string, dir: string, socket: string, extraParameters: Record<string, unknown> = {}, extraPlugins: unknown[] = []) {
  await writeFile(
    config,
    JSON.stringify({
      parameters: {
        storage: "local",
        localStoragePath: join(dir, "store"),
        remoteFileStateCachePath: join(dir, "state"),
        stagingDirectory: join(dir, "staging"),
        errorLogFilePath: join(dir, "error.log"),
        ipcPath: join(dir, "ipc"),
        backupRoots: [join(dir, "src")],
        enableFileAccessNotify: false,
        snapshotSharingWindow: "PT0.05S",
        batchUploadConsolidationDelay: "PT0.05S",
        openFileHandlePollingInterval: "PT0.2S",
        uploadThreadCount: 4,
        pathFilters: { rules: [], replaceDefaults: true },
        ...extraParameters,
      },
      plugins: [{ module: join(FIXTURES, "scripted-source.mjs"), options: { socket } }, ...extraPlugins],
    }),
  );
}

/** Starts `rtb run` with the workspace config; resolves once its source socket accepts connections. */
export async function startDaemon(ws: DaemonWorkspace, args: string[] = []): Promise<ChildProcess> {
  const child = spawn(process.execPath, [RTB, "run", "--config", ws.config, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  ws.children.add(child);
  let log = "";
  child.stdout!.on("data", (d) => (log += d));
  child.stderr!.on("data", (d) => (log += d));
  (child as ChildProcess & { log: () => string }).log = () => log;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`daemon exited early (${child.exitCode ?? child.signalCode}): ${log}`);
    if (await canConnect(ws.socket)) return child;
    if (Date.now() > deadline) throw new Error(`daemon did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.end();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Sends change events through the scripted source; resolves when each was accepted. */
export function send(ws: DaemonWorkspace, events: unknown[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(ws.socket);
    let acks = 0;
    let buf = "";
    s.on("data", (d) => {
      buf += d;
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const l of lines) {
        if (l !== "ok") return reject(new Error(l));
        if (++acks === events.length) {
          s.end();
          resolve();
        }
      }
    });
    s.on("error", reject);
    // A daemon killed mid-stream (crash tests) closes the socket: what it acknowledged is all we learn.
    s.on("close", () => resolve());
    s.write(events.map((e) => `${JSON.stringify(e)}\n`).join(""));
    if (events.length === 0) resolve();
  });
}

/** Runs an `rtb` command to completion. */
export function rtb(args: string[], timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RTB, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", () => clearTimeout(timer));
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Stops a daemon with SIGTERM and waits for its exit code. */
export async function stopDaemon(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const done = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  child.kill("SIGTERM");
  return done;
}

/** Type, mode, size, content and link target of every path under root (mtimes left out: the daemon may lag). */
export async function snapshotTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function visit(dir: string, rel: string) {
    for (const name of (await readdir(dir)).sort()) {
      const p = join(dir, name);
      const r = `${rel}/${name}`;
      const st = await lstat(p);
      if (st.isDirectory()) {
        out[r] = "dir";
        await visit(p, r);
      } else if (st.isSymbolicLink()) out[r] = `link ${await readlink(p)}`;
      else out[r] = `file ${(st.mode & 0o7777).toString(8)} ${(await readFile(p)).toString("base64")}`;
    }
  }
  await visit(root, "");
  return out;
}

/** Restores everything into a fresh directory and describes it (relative to the backed-up source root). */
export async function restoredTree(ws: DaemonWorkspace): Promise<Record<string, string> | string> {
  const out = await mkdtemp(join(ws.dir, "restore-"));
  const r = await rtb(["restore", "/", "-r", "--store", ws.store, "--to", out, "--quiet"]);
  if (r.code !== 0) return `restore failed (${r.code}): ${r.stderr}`;
  const tree = await snapshotTree(join(out, ws.src.slice(1))).catch((e: Error) => e.message);
  await rm(out, { recursive: true, force: true });
  return tree;
}

/** Waits until a restore equals the source tree. */
export async function waitForRestoreToMatch(ws: DaemonWorkspace, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    const want = await snapshotTree(ws.src);
    last = await restoredTree(ws);
    if (JSON.stringify(last) === JSON.stringify(want)) return;
    if (Date.now() > deadline) throw new Error(`restore never matched the source.\nwant ${JSON.stringify(want)}\ngot  ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
