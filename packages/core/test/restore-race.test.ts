import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { Engine, LocalDirectoryStorage, openRepository, Restorer, loadTree, silentSink, type RestoreEvent } from "@rtbackup/core";

const NOBODY = 65534;
const TRIES = 200;
const BUDGET_MS = 25_000;
const isRoot = process.getuid?.() === 0;

/** Every name under `root` with type, mode, owner, size, times and a content hash: what "untouched" means. */
async function snapshotTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function visit(p: string): Promise<void> {
    const st = await lstat(p);
    const hash = st.isFile()
      ? createHash("sha256")
          .update(await readFile(p))
          .digest("hex")
      : "";
    out[relative(root, p) || "."] = `${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.size} m=${st.mtimeMs} c=${st.ctimeMs} ${hash}`;
    if (st.isDirectory()) for (const name of (await readdir(p)).sort()) await visit(join(p, name));
  }
  await visit(root);
  return out;
}

/** Waits until process `pid` is stopped (state T) after a SIGSTOP, so nothing it does overlaps what follows. */
async function stopped(pid: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    if (/^\d+ \(.*\) [Tt] /.test(stat)) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error(`helper ${pid} did not stop`);
}

/** Starts the swapper as uid/gid 65534 (no supplementary groups) and waits for its "ready" line. */
async function startSwapper(script: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [script, ...args], { uid: NOBODY, gid: NOBODY, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += String(d)));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once("data", (d) => (String(d).startsWith(`ready ${NOBODY}`) ? resolve() : reject(new Error(`swapper said ${String(d)}`))));
    child.once("exit", (code) => reject(new Error(`swapper exited ${code}: ${stderr}`)));
  });
  return child;
}

test("a local user swapping directories and temp files under a running restore cannot make it write, chmod or touch anything outside the target", async () => {
  if (!isRoot) {
    console.log("  (skipped: needs root to restore as root against an unprivileged racer)");
    return;
  }
  // Everything under one 0755 directory in /tmp that uid 65534 can traverse but not change.
  const base = await mkdtemp("/tmp/rtb-race-");
  await chmod(base, 0o755);
  let swapper: ChildProcess | undefined;
  try {
    const src = join(base, "src");
    const victim = join(base, "victim");
    const target = join(base, "target");
    await mkdir(join(src, "a", "b", "c"), { recursive: true });
    await writeFile(join(src, "top.txt"), "top\n");
    await writeFile(join(src, "a", "note.txt"), "note\n");
    await writeFile(join(src, "a", "b", "c", "deep.txt"), "deep\n".repeat(100));
    await writeFile(join(src, "a", "b", "suid"), "#!/bin/sh\necho root\n");
    await chmod(join(src, "a", "b", "suid"), 0o4755);
    await writeFile(join(src, "a", "b", "secret"), "secret\n");
    await chmod(join(src, "a", "b", "secret"), 0o600);
    await chmod(join(src, "a", "b"), 0o750);
    await chmod(join(src, "a", "b", "c"), 0o700);
    await symlink("b/secret", join(src, "a", "link"));
    const engine = new Engine({
      parameters: {
        storage: "local",
        localStoragePath: join(base, "store"),
        remoteFileStateCachePath: join(base, "state"),
        backupRoots: [src],
        pathFilters: [],
        batchUploadConsolidationDelay: 20,
        snapshotSharingWindow: 10,
        stagingDirectory: join(base, "staging"),
      },
      log: { sink: silentSink },
    });
    await engine.start();
    try {
      await engine.initialBackup();
    } finally {
      await engine.stop();
    }
    const repo = await openRepository(new LocalDirectoryStorage({ path: join(base, "store") }));
    const tree = await loadTree(repo);
    const entries = Restorer.select(tree.entries, [src], true).entries;
    assert.ok(
      entries.some((e) => e.type === "file" && (e.mode & 0o7777) === 0o4755) && entries.some((e) => e.type === "symlink"),
      "the tree has a setuid file and a symlink",
    );

    // The victim: root-owned, outside the target, where the racer points its symlinks.
    await mkdir(join(victim, "sub"), { recursive: true, mode: 0o755 });
    await writeFile(join(victim, "victim.txt"), "root's file\n", { mode: 0o644 });
    await writeFile(join(victim, "sub", "inner"), "inner\n", { mode: 0o640 });
    await chmod(victim, 0o755);
    const victimBefore = await snapshotTree(victim);
    const outside = async () => (await readdir(base)).sort();
    // The target is the racer's own directory (like `--to ~alice/restore`, or `/home/alice` under `--to /`).
    await mkdir(target, { mode: 0o755 });
    await chown(target, NOBODY, NOBODY);
    const script = join(base, "race-swapper.mjs");
    await writeFile(script, await readFile(fileURLToPath(new URL("./helpers/race-swapper.mjs", import.meta.url))), { mode: 0o644 });
    const baseBefore = await outside();
    // Every directory the restore walks, relative to the target, shallowest first.
    const rel = (p: string) => relative("/", p);
    const chain = rel(src)
      .split("/")
      .map((_, i, all) => all.slice(0, i + 1).join("/"));
    const dirs = [...new Set([...chain, ...entries.filter((e) => e.type === "dir").map((e) => rel(e.path))])];
    swapper = await startSwapper(script, [target, victim, join(victim, "victim.txt"), JSON.stringify(dirs)]);
    const pid = swapper.pid!;

    let tries = 0;
    let restored = 0;
    let refused = 0;
    const started = Date.now();
    while (tries < TRIES && Date.now() - started < BUDGET_MS) {
      tries++;
      // Reset the target with the racer stopped (a root `rm -r` racing it would be an attack of its own).
      process.kill(pid, "SIGSTOP");
      await stopped(pid);
      for (const name of await readdir(target)) await rm(join(target, name), { recursive: true, force: true });
      process.kill(pid, "SIGCONT");
      const events: RestoreEvent[] = [];
      const result = await new Restorer(tree.chunks, { onEvent: (e) => events.push(e), concurrency: 4 }).restore(entries, target);
      process.kill(pid, "SIGSTOP");
      await stopped(pid);
      assert.is(result.restored + result.errors + result.unsafe, entries.length, `try ${tries}: every entry restored or reported: ${JSON.stringify(events)}`);
      assert.is(events.length, entries.length, `try ${tries}: one event per entry`);
      assert.equal(await snapshotTree(victim), victimBefore, `try ${tries}: the victim tree is untouched (restore events: ${JSON.stringify(events)})`);
      assert.equal(await outside(), baseBefore, `try ${tries}: nothing created beside the target`);
      restored += result.restored;
      refused += result.errors + result.unsafe;
      process.kill(pid, "SIGCONT");
    }
    assert.ok(tries >= 20, `ran ${tries} tries`);
    // The race was real: some entries were refused because of the racer, and restores did get work done.
    assert.ok(refused > 0, `the racer caused refusals (${refused} in ${tries} tries)`);
    assert.ok(restored > 0, `entries were restored (${restored} in ${tries} tries)`);
    console.log(`  ${tries} racing restores: ${restored} entries restored, ${refused} refused, victim untouched`);
  } finally {
    if (swapper?.pid !== undefined && swapper.exitCode === null) {
      const exited = new Promise((r) => swapper!.once("exit", r));
      process.kill(swapper.pid, "SIGKILL");
      await exited;
    }
    await rm(base, { recursive: true, force: true });
  }
});

test.run();
