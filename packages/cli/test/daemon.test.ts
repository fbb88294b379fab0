import { test } from "uvu";
import * as assert from "uvu/assert";
import { appendFile, mkdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { daemonWorkspace, rtb, send, startDaemon, stopDaemon, waitForRestoreToMatch, FIXTURES, writeConfig } from "./helpers/daemon.js";

test("the daemon backs up creates, modifies, renames and deletes as they are reported; restore equals the tree", async () => {
  const ws = await daemonWorkspace();
  try {
    const daemon = await startDaemon(ws);
    const p = (...n: string[]) => join(ws.src, ...n);
    await mkdir(p("docs", "deep"), { recursive: true });
    await writeFile(p("docs", "a.txt"), "alpha");
    await writeFile(p("docs", "deep", "b.txt"), "bravo");
    await writeFile(p("empty"), "");
    await symlink("docs/a.txt", p("link"));
    await send(
      ws,
      [p("docs"), p("docs", "deep"), p("docs", "a.txt"), p("docs", "deep", "b.txt"), p("empty"), p("link")].map((path) => ({ type: "update", path })),
    );
    await waitForRestoreToMatch(ws);
    // Modify, rename a file, rename a directory, delete.
    await appendFile(p("docs", "a.txt"), " and more");
    await rename(p("docs", "deep"), p("docs", "renamed"));
    await rename(p("empty"), p("empty-moved"));
    await writeFile(p("new.txt"), "new");
    await rm(p("link"));
    await send(ws, [
      { type: "update", path: p("docs", "a.txt") },
      { type: "move", from: p("docs", "deep"), to: p("docs", "renamed") },
      { type: "move", from: p("empty"), to: p("empty-moved") },
      { type: "update", path: p("new.txt") },
      { type: "delete", path: p("link") },
      { type: "update", path: p("docs") },
      { type: "update", path: ws.src },
    ]);
    await waitForRestoreToMatch(ws);
    assert.is(await stopDaemon(daemon), 0, "SIGTERM drains and exits 0");
  } finally {
    await ws.cleanup();
  }
});

test("changes made while the daemon was down are caught up at start", async () => {
  const ws = await daemonWorkspace();
  try {
    await writeFile(join(ws.src, "one.txt"), "1");
    let daemon = await startDaemon(ws);
    await waitForRestoreToMatch(ws);
    assert.is(await stopDaemon(daemon), 0);
    await writeFile(join(ws.src, "two.txt"), "2");
    await rm(join(ws.src, "one.txt"));
    daemon = await startDaemon(ws);
    await waitForRestoreToMatch(ws);
    assert.is(await stopDaemon(daemon), 0);
  } finally {
    await ws.cleanup();
  }
});

test("SIGKILL mid-pack, mid-commit and mid-checkpoint loses nothing: after restart and catch-up a restore equals the source", async () => {
  const ws = await daemonWorkspace();
  try {
    const files = Array.from({ length: 40 }, (_, i) => join(ws.src, `d${i % 4}`, `f${i}.bin`));
    for (let i = 0; i < 4; i++) await mkdir(join(ws.src, `d${i}`));
    for (const [i, f] of files.entries()) await writeFile(f, Buffer.alloc(1000 + i * 97, i));
    // Content (a v2 pack), a lane batch, a checkpoint: each put completes, then the daemon dies before it learns so.
    for (const crash of [
      { when: "data-put", after: 2 },
      { when: "index-put", after: 1 },
      { when: "checkpoint-put", after: 1 },
      { when: "data-put", after: 1 },
      { when: "index-put", after: 2 },
    ]) {
      const parameters = { uploadThreadCount: 2, checkpointEvery: 15 };
      await writeConfig(ws.config, ws.dir, ws.socket, parameters, [{ module: join(FIXTURES, "crash.mjs"), options: crash }]);
      const daemon = await startDaemon(ws);
      const exited = new Promise((r) => daemon.once("exit", (code, signal) => r(signal ?? code)));
      // If the workload is too small to reach the crash point, kill it anyway: still a SIGKILL at an arbitrary point.
      const fallback = setTimeout(() => daemon.kill("SIGKILL"), 20_000);
      // Keep the workload busy: modify files so there is always something to upload.
      for (const [i, f] of files.entries()) if (i % 3 === 0) await appendFile(f, `more ${crash.when}`);
      await send(
        ws,
        files.map((path) => ({ type: "update", path })),
      );
      assert.is(await exited, "SIGKILL", `crash at ${crash.when} #${crash.after}`);
      clearTimeout(fallback);
    }
    await writeConfig(ws.config, ws.dir, ws.socket);
    const daemon = await startDaemon(ws);
    await waitForRestoreToMatch(ws, 60_000);
    assert.is(await stopDaemon(daemon), 0);
    const errorLog = await readFile(join(ws.dir, "error.log"), "utf8").catch(() => "");
    assert.not.match(errorLog, /INTEGRITY|corrupt/);
    // No lane with a gap or two batches under one number, every checkpoint agrees with its batches, no blob lost.
    const checkConfig = join(ws.dir, "check.config.json");
    await writeFile(checkConfig, JSON.stringify({ parameters: { monitorFileSystemTypes: ["tmpfs"] } }));
    const check = await rtb(["check", "--read-data", "--config", checkConfig, "--store", ws.store, "--state", join(ws.dir, "check-state")]);
    assert.is(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /[1-9]\d* checkpoint\(s\)/, "a checkpoint was written (and one put was killed)");
  } finally {
    await ws.cleanup();
  }
});

test("a second daemon on the same state directory refuses to start", async () => {
  const ws = await daemonWorkspace();
  try {
    const first = await startDaemon(ws);
    const second = await rtb(["run", "--config", ws.config], 15_000);
    assert.is(second.code, 1, second.stderr);
    assert.match(second.stderr, new RegExp(`another rtb process \\(PID ${first.pid}\\)`));
    // The first daemon is untouched: its source still answers.
    await send(ws, [{ type: "update", path: ws.src }]);
    assert.is(await stopDaemon(first), 0);
  } finally {
    await ws.cleanup();
  }
});

test.run();
