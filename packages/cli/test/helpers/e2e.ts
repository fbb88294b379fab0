// Helpers for the end-to-end tests: the real daemon (`rtb run`) with the default preset, real commands as the
// workload, and `rtb restore` compared with the tree. Everything started here is stopped by PID, and mounts are
// undone, in the tests' `finally` blocks.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as delay } from "node:timers/promises";
import { readXattrsSync } from "@rtbackup/linux-fs";

const here = dirname(fileURLToPath(import.meta.url));
const RTB = resolve(here, "..", "..", "bin", "rtb.js");

/** Result of {@link run}. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell and collects its output; never rejects for a non-zero exit. */
export function run(file: string, args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, [...args], { cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" } });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** Runs a command and throws with its stderr when it fails. */
export async function must(file: string, args: readonly string[], options: { cwd?: string } = {}): Promise<string> {
  const r = await run(file, args, options);
  if (r.code !== 0) throw new Error(`${file} ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Runs a shell script (`set -eu`) in `cwd`: the workloads are real commands (cp, mv, rm, sed, tar). */
export function shell(script: string, cwd: string): Promise<string> {
  return must("sh", ["-euc", script], { cwd });
}

/** Polls `check` until it returns true or the deadline passes. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(50);
  }
}

/** A temporary directory under the system temp directory; `remove` deletes it. */
export async function scratchDirectory(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Mounts a fresh tmpfs on `dir` (created if needed). */
export async function mountTmpfs(dir: string, sizeMiB = 64): Promise<void> {
  await mkdir(dir, { recursive: true });
  await must("mount", ["-t", "tmpfs", "-o", `size=${sizeMiB}m,mode=755`, "tmpfs", dir]);
}

/** True when `dir` is a mount point. */
export async function isMountPoint(dir: string): Promise<boolean> {
  return (await run("mountpoint", ["-q", dir])).code === 0;
}

/** Unmounts `dir`, retrying "target is busy" for a while (a child that was just killed may still hold it). */
export async function unmount(dir: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (!(await isMountPoint(dir))) return;
    const r = await run("umount", [dir]);
    if (r.code === 0) return;
    if (Date.now() > deadline) throw new Error(`umount ${dir} failed: ${r.stderr.trim()}`);
    await delay(200);
  }
}

/** A running `rtb run`. */
export interface Daemon {
  readonly child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  log(): string;
}

/** Every daemon started by this process, so a test's `finally` can kill what is left (by PID). */
const started = new Set<ChildProcess>();

/** Starts `rtb run --config <config>`; resolves once it logs that it is monitoring (sources are open by then). */
export async function startDaemon(config: string, args: readonly string[] = []): Promise<Daemon> {
  const child = spawn(process.execPath, [RTB, "run", "--config", config, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  started.add(child);
  let text = "";
  child.stdout!.on("data", (d) => (text += d));
  child.stderr!.on("data", (d) => (text += d));
  const daemon: Daemon = { child, log: () => text };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`daemon exited early (${child.exitCode ?? child.signalCode}):\n${text}`);
    if (/\[daemon\] rtb \d+ monitoring/.test(text)) return daemon;
    if (Date.now() > deadline) throw new Error(`daemon did not start in time:\n${text}`);
    await delay(50);
  }
}

/** SIGTERM (the daemon drains and commits), then SIGKILL if it has not exited after `graceMs`; its exit code. */
export async function stopDaemon(daemon: Daemon, graceMs = 30_000): Promise<number | null> {
  const { child } = daemon;
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  const code = await exited;
  clearTimeout(timer);
  started.delete(child);
  return code;
}

/** Kills (SIGKILL, by PID) every daemon this process started that is still running, and waits for them. */
export async function killDaemons(): Promise<void> {
  const alive = [...started].filter((c) => c.exitCode === null && c.signalCode === null);
  const gone = alive.map((c) => new Promise((r) => c.once("exit", r)));
  for (const c of alive) c.kill("SIGKILL");
  await Promise.all(gone);
  started.clear();
}

/**
 * Type, permission bits, content digest and link target of every path under `root`, keyed by path relative to it
 * (`/a/b`). Directories are listed with their modes. `skip` leaves out a relative path and everything below it.
 * Times are left out: the restore sets them from the index, which may lag a touch-only change.
 */
/** ` xattrs=name:hex,…` for a path's extended attributes (names sorted), or "" when it has none. */
function xattrText(path: string): string {
  const attrs = readXattrsSync(Buffer.from(path)).map(({ name, value }) => `${name.toString()}:${value.toString("hex")}`);
  return attrs.length ? ` xattrs=${attrs.sort().join(",")}` : "";
}

export async function describeTree(root: string, skip: (rel: string) => boolean = () => false): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function visit(dir: string, rel: string): Promise<void> {
    for (const name of (await readdir(dir)).sort()) {
      const r = `${rel}/${name}`;
      if (skip(r)) continue;
      const p = join(dir, name);
      const st = await lstat(p);
      const mode = (st.mode & 0o7777).toString(8);
      // Extended attributes (ACLs included) of files and directories, when they have any.
      const attrs = st.isFile() || st.isDirectory() ? xattrText(p) : "";
      if (st.isDirectory()) {
        out[r] = `dir ${mode}${attrs}`;
        await visit(p, r);
      } else if (st.isSymbolicLink()) out[r] = `link ${await readlink(p)}`;
      else if (st.isFile())
        // A file with more names (hard links) says how many: a restore must give them one inode again.
        out[r] = `file ${mode} ${st.size} ${createHash("sha256")
          .update(await readFile(p))
          .digest("hex")}${st.nlink > 1 ? ` ×${st.nlink}` : ""}${attrs}`;
      else out[r] = `other ${st.mode.toString(8)}`;
    }
  }
  await visit(root, "");
  return out;
}

/** Only the regular files of a description (what a source that sees writes only can be held to). */
export function filesOnly(tree: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(tree).filter(([, v]) => v.startsWith("file ")));
}

/** Restores everything (`rtb restore / -r --store`) into a fresh directory under `scratch` and describes `root` in it. */
export async function restoredTree(store: string, root: string, scratch: string): Promise<Record<string, string> | string> {
  const out = await mkdtemp(join(scratch, "restore-"));
  try {
    const r = await run(process.execPath, [RTB, "restore", "/", "-r", "--store", store, "--to", out, "--quiet"]);
    if (r.code !== 0) return `restore failed (${r.code}): ${r.stderr}`;
    return await describeTree(join(out, root.slice(1))).catch((e: Error) => e.message);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/** Options of {@link waitForRestore}. */
export interface RestoreWait {
  store: string;
  /** The backed-up tree (a root of the daemon). */
  root: string;
  /** Where restores go (not on a watched filesystem). */
  scratch: string;
  /** Relative paths of `root` that are not expected in the restore (the agent's own directories). */
  skip?: (rel: string) => boolean;
  /** Reduces both descriptions before comparing (e.g. {@link filesOnly}). */
  view?: (tree: Record<string, string>) => Record<string, string>;
  timeoutMs?: number;
  /** The daemon, whose log is added to a timeout's message. */
  daemon?: Daemon;
}

/** Polls restores until one equals the tree under `root`; returns that restored description. */
export async function waitForRestore(w: RestoreWait): Promise<Record<string, string>> {
  const view = w.view ?? ((t: Record<string, string>) => t);
  const deadline = Date.now() + (w.timeoutMs ?? 30_000);
  for (;;) {
    const want = view(await describeTree(w.root, w.skip));
    const got = await restoredTree(w.store, w.root, w.scratch);
    if (typeof got !== "string" && JSON.stringify(view(got)) === JSON.stringify(want)) return got;
    if (Date.now() > deadline) {
      throw new Error(
        `restore never matched ${w.root}:\n${treeDiff(want, typeof got === "string" ? got : view(got))}${w.daemon ? `\ndaemon log:\n${w.daemon.log().slice(-6000)}` : ""}`,
      );
    }
    await delay(200);
  }
}

function treeDiff(want: Record<string, string>, got: Record<string, string> | string): string {
  if (typeof got === "string") return got;
  const lines: string[] = [];
  for (const k of new Set([...Object.keys(want), ...Object.keys(got)])) {
    if (want[k] !== got[k]) lines.push(`  ${k}: want ${want[k] ?? "(absent)"}, restored ${got[k] ?? "(absent)"}`);
  }
  return lines.slice(0, 60).join("\n");
}

/** Writes a JSON config for `rtb run`. */
export async function writeJsonConfig(path: string, parameters: Record<string, unknown>): Promise<void> {
  await writeFile(path, JSON.stringify({ parameters }, null, 2));
}

/**
 * Builds the material the workloads copy and extract, outside any watched filesystem: a tree with modes, nested
 * directories, symlinks (relative, dangling, to a directory), an empty file, a multi-megabyte file, many small files
 * and names with spaces and non-ASCII letters; and a tar archive of another small tree.
 */
export async function buildMaterial(dir: string): Promise<{ tree: string; archive: string }> {
  const tree = join(dir, "tree");
  const archive = join(dir, "archive.tar");
  await mkdir(dir, { recursive: true });
  await shell(
    `mkdir -p tree/docs tree/bin tree/secret tree/deep/a/b/c tree/many tree/emptydir tarsrc/etc/sub
     printf 'first foo line\\nsecond line with foo\\n' > tree/docs/readme.txt
     printf '# notes\\n' > tree/docs/notes.md
     printf '#!/bin/sh\\necho run\\n' > tree/bin/run.sh && chmod 755 tree/bin/run.sh
     printf 'k3y' > tree/secret/key && chmod 600 tree/secret/key && chmod 700 tree/secret
     printf 'leaf' > tree/deep/a/b/c/leaf.txt
     printf 'original\\n' > tree/edit.txt
     printf 'v1\\n' > tree/conf
     : > tree/empty
     printf 'naïve' > 'tree/docs/naïve file.txt'
     head -c 3145728 /dev/urandom > tree/big.bin
     i=0; while [ $i -lt 150 ]; do printf "small $i" > tree/many/f$i.txt; i=$((i+1)); done
     ln -s docs/readme.txt tree/readme-link
     ln -s ../nowhere tree/docs/dangling
     ln -s deep/a tree/deep-link
     printf '[x]\\ny=1\\n' > tarsrc/etc/conf.ini && chmod 640 tarsrc/etc/conf.ini
     printf 'sub' > tarsrc/etc/sub/file && chmod 750 tarsrc/etc/sub
     ln -s conf.ini tarsrc/etc/link.ini
     tar -cf archive.tar -C tarsrc etc`,
    dir,
  );
  return { tree, archive };
}
