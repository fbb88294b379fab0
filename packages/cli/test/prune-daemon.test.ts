// A running daemon and `rtb forget` at once: the daemon sees the prune's base within PruneCheckInterval and stops
// deduplicating against what was stored before it (content a prune forgot is uploaded again, not named from
// memory), goes on committing under the base, and a second prune deletes the unneeded packs while the restore of
// the daemon's tree stays whole.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { daemonWorkspace, rtb, send, snapshotTree, startDaemon, stopDaemon, writeConfig, type DaemonWorkspace } from "./helpers/daemon.js";

async function untilRestored(ws: DaemonWorkspace, common: string[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const out = await mkdtemp(join(ws.dir, "restore-"));
    const r = await rtb(["restore", "/", "-r", "--to", out, "--quiet", ...common]);
    const got = r.code === 0 ? await snapshotTree(join(out, ws.src.slice(1))).catch((e: Error) => e.message) : r.stderr;
    await rm(out, { recursive: true, force: true });
    const want = await snapshotTree(ws.src);
    if (JSON.stringify(got) === JSON.stringify(want)) return;
    if (Date.now() > deadline) assert.equal(got, want, "the restore never matched the source");
    await new Promise((r) => setTimeout(r, 200));
  }
}

test("a running daemon sees a prune's base, uploads forgotten content again, and loses nothing to a later prune", async () => {
  const ws = await daemonWorkspace({ pruneCheckInterval: "PT0.1S" });
  try {
    // The commands get a configuration of their own: the daemon's has the scripted source on its socket.
    await writeConfig(join(ws.dir, "admin.json"), ws.dir, join(ws.dir, "admin.sock"));
    const common = ["--config", join(ws.dir, "admin.json")];
    await writeFile(join(ws.src, "notes.txt"), "the first draft\n".repeat(50));
    const daemon = await startDaemon(ws);
    await send(ws, [{ type: "update", path: ws.src }]);
    await untilRestored(ws, common);
    for (const draft of ["second", "third"]) {
      await writeFile(join(ws.src, "notes.txt"), `the ${draft} draft\n`.repeat(50));
      await send(ws, [{ type: "update", path: join(ws.src, "notes.txt") }]);
      await untilRestored(ws, common);
    }

    const pruned = await rtb(["forget", "--keep-last", "1", "--grace", "0", ...common]);
    assert.is(pruned.code, 0, pruned.stderr);
    await new Promise((r) => setTimeout(r, 300));
    // The first draft is no longer needed by any kept version; a new file holds it again.
    await writeFile(join(ws.src, "copy.txt"), "the first draft\n".repeat(50));
    await send(ws, [{ type: "update", path: join(ws.src, "copy.txt") }]);
    await untilRestored(ws, common);
    // Its commit stored the content again (a blob line of its own), instead of naming a blob the prune may delete.
    const commits = (await rtb(["log", "--json", join(ws.src, "copy.txt"), ...common])).stdout.trim().split("\n");
    const last = JSON.parse(commits.at(-1)!) as { storedBytes: number };
    assert.ok(last.storedBytes > 0, `the commit of copy.txt stored ${last.storedBytes} bytes`);
    const log = (daemon as unknown as { log: () => string }).log();
    assert.match(log, /a prune wrote index\/base\/\d+-[0-9a-f]{64}: content stored before it is uploaded again/);

    const second = await rtb(["forget", "--keep-last", "1", "--grace", "0", ...common]);
    assert.is(second.code, 0, second.stderr);
    assert.match(second.stderr, /[1-9]\d* deleted now/, "the second draft's pack goes; the first draft's is needed again");
    await writeFile(join(ws.src, "last.txt"), "after both prunes\n");
    await send(ws, [{ type: "update", path: join(ws.src, "last.txt") }]);
    await untilRestored(ws, common);
    assert.is(await stopDaemon(daemon), 0);
    const check = await rtb(["check", "--read-data", ...common]);
    assert.is(check.code, 0, check.stdout + check.stderr);
  } finally {
    await ws.cleanup();
  }
});

test.run();
