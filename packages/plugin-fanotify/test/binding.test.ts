import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FanotifyGroup, constants as C, fsidOf, handleKeyOf, resolveHandle, type RawFanotifyEvent } from "@rtbackup/plugin-fanotify";
import { withTmpfs } from "./helpers/mounts.js";
import { openSync, closeSync, mkdirSync } from "node:fs";

const FID = C.FAN_CLASS_NOTIF | C.FAN_REPORT_FID | C.FAN_REPORT_DIR_FID | C.FAN_REPORT_NAME | C.FAN_REPORT_TARGET_FID;
const MASK = C.FAN_CREATE | C.FAN_DELETE | C.FAN_RENAME | C.FAN_MODIFY | C.FAN_CLOSE_WRITE | C.FAN_ONDIR;

function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (condition()) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 5);
    };
    tick();
  });
}

test("raw records: handle keys match name_to_handle_at, resolve to paths, and stop() holds events back", async () => {
  await withTmpfs(async (mnt) => {
    const group = new FanotifyGroup(FID, C.O_RDONLY, 65536, 2);
    const mountFd = openSync(mnt, "r");
    try {
      group.mark(mnt, C.FAN_MARK_ADD | C.FAN_MARK_FILESYSTEM, MASK);
      const seen: RawFanotifyEvent[] = [];
      group.start((error, events) => {
        assert.is(error, null);
        seen.push(...events);
      });
      mkdirSync(join(mnt, "d"));
      await until(() => seen.length >= 1, "mkdir event");
      const created = seen[0]!;
      assert.ok(created.mask & C.FAN_CREATE && created.mask & C.FAN_ONDIR);
      assert.is(created.name, "d");
      assert.is(created.dir, handleKeyOf(mnt));
      assert.is(created.fid, handleKeyOf(join(mnt, "d")));
      assert.is(created.dir!.slice(0, 16), fsidOf(mnt));
      assert.is(resolveHandle(mountFd, created.fid!), join(mnt, "d"));
      assert.is(created.pid, process.pid);

      group.stop();
      seen.length = 0;
      writeFileSync(join(mnt, "d", "f"), "x");
      // Nothing can arrive while stopped; give the loop a few turns to prove it.
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      assert.is(seen.length, 0);
      group.start();
      await until(() => seen.some((e) => e.name === "f"), "queued event after start()");
    } finally {
      group.close();
      closeSync(mountFd);
    }
  });
});

test("closing a group from inside its own callback is safe, and a throwing callback reaches uncaughtException", async () => {
  await withTmpfs(async (mnt) => {
    const closing = new FanotifyGroup(FID, C.O_RDONLY, 65536, 2);
    const throwing = new FanotifyGroup(FID, C.O_RDONLY, 65536, 2);
    const listeners = process.listeners("uncaughtException");
    process.removeAllListeners("uncaughtException");
    let caught: unknown;
    process.on("uncaughtException", (err) => (caught = err));
    try {
      let calls = 0;
      closing.mark(mnt, C.FAN_MARK_ADD | C.FAN_MARK_FILESYSTEM, MASK);
      closing.start(() => {
        calls++;
        closing.close();
      });
      throwing.mark(mnt, C.FAN_MARK_ADD | C.FAN_MARK_FILESYSTEM, MASK);
      throwing.start(() => {
        throw new Error("from the callback");
      });
      writeFileSync(join(mnt, "a"), "x");
      await until(() => calls === 1 && caught !== undefined, "both callbacks");
      assert.ok(closing.closed);
      assert.is(closing.fd, -1);
      assert.is((caught as Error).message, "from the callback");
      writeFileSync(join(mnt, "b"), "x");
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      assert.is(calls, 1, "no delivery after close");
    } finally {
      closing.close();
      throwing.close();
      process.removeAllListeners("uncaughtException");
      for (const l of listeners) process.on("uncaughtException", l);
    }
  });
});

test.run();
