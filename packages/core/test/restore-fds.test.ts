import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalDirectoryStorage, Restorer, loadTree, openRepository, type ChunkSource, type FileEntry, type RestoreEvent } from "@rtbackup/core";
import { backupOnce, workspace } from "./helpers/tree.js";

const isRoot = process.getuid?.() === 0;

/** Runs a command, resolving with its exit code, stdout and stderr. */
function run(cmd: string, args: string[], cwd?: string): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...(cwd === undefined ? {} : { cwd }) });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += String(d)));
  child.stderr.on("data", (d) => (err += String(d)));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code, out, err }));
  });
}

/** A file entry of a one-file backup, to reuse its stored content under other paths. */
async function sampleEntry(ws: Awaited<ReturnType<typeof workspace>>): Promise<{ chunks: ChunkSource; file: FileEntry; sequence: number }> {
  await writeFile(join(ws.src, "f.txt"), "content\n");
  await backupOnce(ws);
  const repo = await openRepository(new LocalDirectoryStorage({ path: ws.store }));
  const tree = await loadTree(repo);
  const file = [...tree.entries.values()].find((e) => e.path.endsWith("/f.txt"))!;
  return { chunks: tree.chunks, file, sequence: tree.sequence };
}

test("a tree deeper than PATH_MAX and wider than the directory fd cache restores, holding a bounded number of fds", async () => {
  const ws = await workspace();
  try {
    const { chunks, file } = await sampleEntry(ws);
    const dir = (path: string): FileEntry => ({ ...file, path, type: "dir", size: 0, chunks: [], mode: 0o40750 });
    const entries: FileEntry[] = [];
    // 40 levels of 120-byte names: 4,840 bytes of path, beyond PATH_MAX (4,096), which no path-based call accepts.
    let deep = "";
    for (let i = 0; i < 40; i++) {
      deep += `/${String(i).padStart(3, "0")}${"d".repeat(117)}`;
      entries.push(dir(deep));
    }
    entries.push({ ...file, path: `${deep}/leaf.txt` });
    // 300 sibling directories with a file each: far more than the fds the restore may keep open.
    entries.push(dir("/wide"));
    for (let i = 0; i < 300; i++) entries.push(dir(`/wide/${i}`), { ...file, path: `/wide/${i}/f.txt` });
    const before = readdirSync("/proc/self/fd").length;
    let most = before;
    const events: RestoreEvent[] = [];
    const restorer = new Restorer(chunks, {
      maxOpenDirs: 8,
      concurrency: 4,
      onEvent: (e) => {
        events.push(e);
        most = Math.max(most, readdirSync("/proc/self/fd").length);
      },
    });
    const result = await restorer.restore(entries, ws.out);
    const problems = events.filter((e) => e.event !== "restored");
    assert.equal(problems, [], "every entry restored");
    assert.is(result.restored, entries.length);
    // 8 idle + what 4 workers hold (each a directory, its parent while opening it, a file) + the target, with slack.
    assert.ok(most - before <= 8 + 4 * 3 + 1 + 4, `fds open at most: ${most - before} above the ${before} before the restore`);
    assert.is(readdirSync("/proc/self/fd").length, before, "every fd closed afterwards");
    // Check the deep file through a walk of short relative steps (the full path is too long for the kernel).
    let at = ws.out;
    const names = deep.slice(1).split("/");
    for (const name of names.slice(0, 20)) at = join(at, name);
    const rest = join(...names.slice(20), "leaf.txt");
    assert.is((await run("sh", ["-c", 'cd "$1" && cat "$2"', "sh", at, rest])).out, "content\n");
    assert.is(await readFile(join(ws.out, "wide", "299", "f.txt"), "utf8"), "content\n");
  } finally {
    // node:fs cannot remove a tree deeper than PATH_MAX; GNU rm walks it with fds.
    await run("rm", ["-rf", ws.out]);
    await ws.cleanup();
  }
});

test("without /proc, restore fails up front with an error that says so, and writes nothing", async () => {
  if (!isRoot) {
    console.log("  (skipped: needs root to unmount /proc in a private mount namespace)");
    return;
  }
  const ws = await workspace();
  try {
    const { file } = await sampleEntry(ws);
    const target = join(ws.dir, "target");
    await mkdir(target);
    // A child in its own mount namespace with /proc unmounted runs the restore and prints what happened.
    const script = [
      `import { LocalDirectoryStorage, Restorer, loadTree, openRepository } from "@rtbackup/core";`,
      `const repo = await openRepository(new LocalDirectoryStorage({ path: ${JSON.stringify(ws.store)} }));`,
      `const tree = await loadTree(repo);`,
      `try { await new Restorer(tree.chunks).restore([${JSON.stringify(file)}], ${JSON.stringify(target)}); console.log(JSON.stringify({ ok: true })); }`,
      `catch (err) { console.log(JSON.stringify({ code: err.code, message: err.message })); }`,
    ].join("\n");
    const shell = 'umount -l /proc && exec "$0" --input-type=module -e "$1"';
    const { code, out, err } = await run(
      "unshare",
      ["--mount", "--propagation", "private", "sh", "-c", shell, process.execPath, script],
      fileURLToPath(new URL(".", import.meta.url)),
    );
    assert.is(code, 0, `child: ${err}`);
    const answer = JSON.parse(out.trim());
    assert.is(answer.code, "NATIVE", out);
    assert.match(answer.message, /restore needs \/proc mounted/);
    assert.match(answer.message, new RegExp(target));
    assert.equal(await readdir(target), [], "nothing restored");
  } finally {
    await ws.cleanup();
  }
});

test.run();
