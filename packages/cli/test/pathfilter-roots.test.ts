// `rtb run` and `rtb backup` apply one path-filter rule: a BackupRoot under a default exclusion (/tmp here, since
// the workspaces live in the system temp directory) is backed up by both; a root a user rule excludes is a warning.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { daemonWorkspace, rtb, startDaemon, stopDaemon, waitForRestoreToMatch } from "./helpers/daemon.js";

const DEFAULT_FILTERS = { pathFilters: { rules: [], replaceDefaults: false } };

test("rtb backup with BackupRoots from the config backs up a root under /tmp with the default PathFilters", async () => {
  const ws = await daemonWorkspace(DEFAULT_FILTERS);
  try {
    assert.ok(ws.src.startsWith("/tmp/"), ws.src);
    await writeFile(join(ws.src, "a.txt"), "a");
    await mkdir(join(ws.src, ".git"));
    await writeFile(join(ws.src, ".git", "HEAD"), "ref");
    const backup = await rtb(["backup", "--config", ws.config, "--no-progress"]);
    assert.is(backup.code, 0, backup.stderr);
    const list = await rtb(["list", "--store", ws.store]);
    assert.ok(list.stdout.includes(join(ws.src, "a.txt")), list.stdout);
    assert.not.ok(list.stdout.includes(join(ws.src, ".git", "HEAD")), "rules inside the root (.git) still apply");
  } finally {
    await ws.cleanup();
  }
});

test("rtb run backs up the same root under /tmp with the default PathFilters (catch-up at start)", async () => {
  const ws = await daemonWorkspace(DEFAULT_FILTERS);
  try {
    await writeFile(join(ws.src, "a.txt"), "a");
    await mkdir(join(ws.src, "docs"));
    await writeFile(join(ws.src, "docs", "b.txt"), "b");
    const daemon = await startDaemon(ws);
    await waitForRestoreToMatch(ws, 20_000);
    assert.is(await stopDaemon(daemon), 0);
  } finally {
    await ws.cleanup();
  }
});

test("a root that a user PathFilter excludes is a config check finding and a warning at start of rtb run and rtb backup", async () => {
  const ws = await daemonWorkspace({
    pathFilters: {
      rules: [
        { type: "Prefix", value: "/tmp", action: "Exclude" },
        { type: "Component", value: "src", action: "Exclude" },
      ],
      replaceDefaults: true,
    },
  });
  try {
    await writeFile(join(ws.src, "a.txt"), "a");
    const expected = `BackupRoot ${ws.src} is excluded by PathFilter Component "src" (Exclude)`;
    const check = await rtb(["config", "check", ws.config]);
    assert.is(check.code, 0, check.stderr);
    assert.ok(check.stderr.includes(`warning: ${expected}`), check.stderr);
    const backup = await rtb(["backup", "--config", ws.config, "--no-progress"]);
    assert.ok(backup.stderr.includes(expected), backup.stderr);
    const daemon = await startDaemon(ws);
    const log = (daemon as unknown as { log: () => string }).log;
    const deadline = Date.now() + 10_000;
    // The startup scan's summary comes after the signal handlers are in place, so SIGTERM then drains cleanly.
    while (!(log().includes(expected) && log().includes("startup scan:")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(log().includes(expected), log());
    assert.is(await stopDaemon(daemon), 0);
  } finally {
    await ws.cleanup();
  }
});

test.run();
