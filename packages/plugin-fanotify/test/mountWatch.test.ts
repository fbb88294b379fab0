import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { withTmpfs } from "./helpers/mounts.js";
import { startSource } from "./helpers/recorder.js";

/** The real mountinfo line of a mount point (the test's own table holds only its own mounts). */
function lineOf(mountPoint: string): string {
  const line = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((l) => l.split(" ")[4] === mountPoint)
    .pop();
  if (!line) throw new Error(`${mountPoint} is not in /proc/self/mountinfo`);
  return line;
}

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test("a filesystem mounted after start-up is marked and rescanned; an unmounted one is forgotten", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rtb-fan-mountinfo-"));
  const table = join(dir, "mountinfo");
  try {
    await withTmpfs(async (first) => {
      writeFileSync(table, `${lineOf(first)}\n`);
      const {
        recorder: rec,
        plugin,
        stop,
      } = await startSource({
        fileSystemTypes: ["tmpfs"],
        mountInfoPath: table,
        mountCheckInterval: 20,
      });
      try {
        assert.equal(
          plugin.watched.map((w) => w.mountPoint),
          [first],
        );
        await withTmpfs(async (second) => {
          writeFileSync(table, `${lineOf(first)}\n${lineOf(second)}\n`);
          await rec.waitFor((e) => e.type === "rescan" && e.path === second && e.reason === "filesystem mounted", "rescan of the new mount");
          execFileSync("sh", ["-c", `echo x > '${second}/new'`]);
          await rec.update(join(second, "new"));
          writeFileSync(table, `${lineOf(first)}\n`);
          await until(() => plugin.watched.length === 1, "the unmounted filesystem to be forgotten");
        });
        execFileSync("sh", ["-c", `echo x > '${first}/still'`]);
        await rec.update(join(first, "still"));
      } finally {
        await stop();
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
