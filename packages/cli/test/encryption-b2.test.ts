import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { B2Emulator } from "@rtbackup/plugin-b2/emulator";
import { RTB, daemonWorkspace, send, snapshotTree, startDaemon, stopDaemon, writeConfig, type DaemonWorkspace } from "./helpers/daemon.js";

const B2_PLUGIN = join(resolve(dirname(fileURLToPath(import.meta.url)), "..", ".."), "plugin-b2", "dist", "index.js");

function rtb(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("RTB_PASSPHRASE")));
    const child = spawn(process.execPath, [RTB, ...args], { stdio: ["ignore", "pipe", "pipe"], detached: true, env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

/** The tree a restore with the admin's config and passphrase gives (as of `at`, when given). */
async function restored(ws: DaemonWorkspace, admin: string[], at?: number): Promise<unknown> {
  const out = await mkdtemp(join(ws.dir, "restore-"));
  try {
    const r = await rtb(["restore", "/", "-r", "--to", out, "--quiet", ...admin, ...(at ? ["--at", String(at)] : [])]);
    if (r.code !== 0) return `restore failed (${r.code}): ${r.stderr}`;
    return await snapshotTree(join(out, ws.src.slice(1))).catch((e: Error) => e.message);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

async function untilRestoreMatches(ws: DaemonWorkspace, admin: string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const want = await snapshotTree(ws.src);
    const got = await restored(ws, admin);
    if (JSON.stringify(got) === JSON.stringify(want)) return;
    if (Date.now() > deadline) assert.equal(got, want, "the restore never matched the source");
    await new Promise((r) => setTimeout(r, 250));
  }
}

test("a write-only agent on a B2 key without deleteFiles: the daemon backs up, survives a lost state cache and a prune; the master key restores every moment; prune needs the master key and delete rights", async () => {
  const emulator = new B2Emulator();
  await emulator.start();
  const ws = await daemonWorkspace();
  try {
    const plugin = {
      module: B2_PLUGIN,
      export: "B2StoragePlugin",
      options: { authorizeUrl: emulator.authorizeUrl, maxAttempts: 2, backoffBaseMs: 5, backoffMaxMs: 20 },
    };
    const b2 = (key: { keyId: string; applicationKey: string }) => ({
      storage: "b2",
      remoteStorageKeyID: key.keyId,
      remoteStorageApplicationKey: key.applicationKey,
      remoteStorageBucketID: emulator.bucketId,
    });
    // The admin (off the host): the bucket's full key and the passphrase.
    const adminDir = join(ws.dir, "admin");
    await writeConfig(join(ws.dir, "admin.json"), adminDir, join(ws.dir, "admin.sock"), b2(emulator.credentials), [plugin]);
    const pass = join(ws.dir, "pass");
    await writeFile(pass, "the admin's passphrase\n", { mode: 0o600 });
    const admin = ["--config", join(ws.dir, "admin.json"), "--passphrase-file", pass];
    const init = await rtb(["init", "--encryption", ...admin]);
    assert.is(init.code, 0, init.stderr);
    const writerKey = join(ws.dir, "writer.key");
    const exported = await rtb(["key", "export", "--writer", "--out", writerKey, ...admin]);
    assert.is(exported.code, 0, exported.stderr);

    // The agent: a key that cannot delete, and the writer key.
    const noDelete = emulator.addKey({ capabilities: ["listBuckets", "listFiles", "readFiles", "writeFiles"] });
    await writeConfig(ws.config, ws.dir, ws.socket, { ...b2(noDelete), encryptionKeyFile: writerKey }, [plugin]);
    await writeFile(join(ws.src, "diary.txt"), "monday\n");
    await writeFile(join(ws.src, "photo.raw"), Buffer.alloc(150_000, 3));
    let daemon = await startDaemon(ws);
    await send(ws, [{ type: "update", path: ws.src }]);
    await untilRestoreMatches(ws, admin);
    const monday = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    await writeFile(join(ws.src, "diary.txt"), "monday\ntuesday\n");
    await send(ws, [{ type: "update", path: join(ws.src, "diary.txt") }]);
    await untilRestoreMatches(ws, admin);
    assert.is(await stopDaemon(daemon), 0);

    // The host loses its state cache. The agent cannot read the index back: it takes a new lane and uploads again.
    await rm(join(ws.dir, "state"), { recursive: true, force: true });
    await writeFile(join(ws.src, "after.txt"), "written while the cache was gone\n");
    daemon = await startDaemon(ws);
    await send(ws, [{ type: "update", path: ws.src }]);
    await untilRestoreMatches(ws, admin);
    const log = (daemon as unknown as { log: () => string }).log();
    assert.match(log, /with a writer key the index cannot be read, so every file is uploaded again/);
    assert.is(await stopDaemon(daemon), 0);

    const before = (await restored(ws, admin, monday)) as Record<string, string>;
    assert.is(before["/diary.txt"], `file 644 ${Buffer.from("monday\n").toString("base64")}`, "the first version is still there");
    const check = await rtb(["check", "--read-data", ...admin]);
    assert.is(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /0 damaged/);

    // Prune. The agent's writer key reads nothing, so it cannot prune; its B2 key cannot delete, so even the master
    // key refuses before writing anything (a dry run, which changes nothing, works).
    const agentForget = await rtb(["forget", "--keep-last", "1", "--config", ws.config]);
    assert.is(agentForget.code, 6, agentForget.stderr);
    assert.match(agentForget.stderr, /master key/);
    await writeConfig(join(ws.dir, "nodelete.json"), join(ws.dir, "nodelete"), join(ws.dir, "nd.sock"), b2(noDelete), [plugin]);
    const noDeleteAdmin = ["--config", join(ws.dir, "nodelete.json"), "--passphrase-file", pass];
    const commits = (await rtb(["log", "--json", ...admin])).stdout;
    const denied = await rtb(["forget", "--keep-last", "1", "--grace", "0", ...noDeleteAdmin]);
    assert.is(denied.code, 1, denied.stderr);
    assert.match(denied.stderr, /may delete objects.*deleteFiles/);
    assert.is((await rtb(["log", "--json", ...admin])).stdout, commits, "nothing was written");
    const dry = await rtb(["forget", "--keep-last", "1", "--dry-run", ...noDeleteAdmin]);
    assert.is(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^forget \S+ +\d+ .*diary\.txt$/m);

    // The admin's key prunes; the agent goes on writing under the base, and a second prune deletes what went.
    const pruned = await rtb(["forget", "--keep-last", "1", "--grace", "0", ...admin]);
    assert.is(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stderr, /versions: \d+ kept, [1-9]\d* forgotten/);
    await untilRestoreMatches(ws, admin);
    daemon = await startDaemon(ws);
    await writeFile(join(ws.src, "later.txt"), "after the prune\n");
    await send(ws, [{ type: "update", path: join(ws.src, "later.txt") }]);
    await untilRestoreMatches(ws, admin);
    assert.is(await stopDaemon(daemon), 0);
    const again = await rtb(["forget", "--keep-last", "1", "--grace", "0", ...admin]);
    assert.is(again.code, 0, again.stderr);
    await untilRestoreMatches(ws, admin);
    const after = await rtb(["check", "--read-data", ...admin]);
    assert.is(after.code, 0, after.stdout + after.stderr);
  } finally {
    await ws.cleanup();
    await emulator.stop();
  }
});

test.run();
