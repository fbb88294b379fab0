// What a scan trusts: (size, mtime, ctime, inode) plus the recorded mode and owner; identities too close to the moment
// of their read are not trusted (racy); and a file re-read only because its identity was not trusted costs a read,
// never an index record.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { chmod, lstat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { StateCache, racyWindowMs, settledIdentity, unchangedOnDisk, type CachedEntry } from "@rtbackup/core";
import { recordPuts } from "./helpers/counting.js";
import { backupOnce, workspace } from "./helpers/tree.js";

const cached: CachedEntry = { path: "/a", type: "file", size: 3, mtimeMs: 1000.5, mode: 0o644, uid: 1, gid: 2, chunks: [], ctimeMs: 2000.5, ino: 7 };
const stats = (over: Record<string, number> = {}) => ({
  size: 3,
  mtimeMs: 1000.5,
  ctimeMs: 2000.5,
  ino: 7,
  mode: 0o100644,
  uid: 1,
  gid: 2,
  ...over,
  isFile: () => true,
  isDirectory: () => false,
  isSymbolicLink: () => false,
  isFIFO: () => false,
  isCharacterDevice: () => false,
  isBlockDevice: () => false,
});

test("unchangedOnDisk: a new mode or owner is a change even when ctime did not move", () => {
  assert.ok(unchangedOnDisk(cached, stats()));
  assert.not.ok(unchangedOnDisk(cached, stats({ mode: 0o100600 })), "chmod in the same second (zfs-fuse)");
  assert.not.ok(unchangedOnDisk(cached, stats({ uid: 0 })), "chown");
  assert.not.ok(unchangedOnDisk(cached, stats({ gid: 0 })));
  assert.not.ok(unchangedOnDisk(cached, stats({ ctimeMs: 2001 })));
  assert.not.ok(unchangedOnDisk({ ...cached, ctimeMs: -1 }, stats()), "a racy identity never matches");
});

test("settledIdentity: a ctime within the filesystem's granularity of the read is not trusted", () => {
  assert.is(racyWindowMs(5_000), 2000, "a whole second: a filesystem that keeps seconds");
  assert.is(racyWindowMs(5_000.25), 20, "sub-second: the kernel's tick");
  const read = 10_000;
  assert.equal(settledIdentity({ ctimeMs: 9_000, ino: 1 }, read), { ctimeMs: -1, ino: 1 }, "same-second ctime on a seconds-only filesystem");
  assert.equal(settledIdentity({ ctimeMs: 8_000, ino: 1 }, read - 1), { ctimeMs: -1, ino: 1 }, "within two seconds (FAT's granularity)");
  assert.equal(settledIdentity({ ctimeMs: 8_000, ino: 1 }, read), { ctimeMs: 8_000, ino: 1 });
  assert.equal(settledIdentity({ ctimeMs: 7_000, ino: 1 }, read), { ctimeMs: 7_000, ino: 1 });
  assert.equal(settledIdentity({ ctimeMs: 9_990.5, ino: 1 }, read), { ctimeMs: -1, ino: 1 });
  assert.equal(settledIdentity({ ctimeMs: 9_900.5, ino: 1 }, read), { ctimeMs: 9_900.5, ino: 1 });
  assert.equal(settledIdentity({ ctimeMs: 20_000.5, ino: 1 }, read), { ctimeMs: -1, ino: 1 }, "a ctime ahead of the clock");
});

test("a file re-read only because its identity was not trusted writes no index record, and is trusted again after", async () => {
  const ws = await workspace();
  try {
    await writeFile(join(ws.src, "a.txt"), "alpha");
    await writeFile(join(ws.src, "b.txt"), "beta");
    await backupOnce(ws);
    const path = join(ws.src, "a.txt");
    const cache = await StateCache.open(ws.state);
    try {
      // As a racy read leaves it: the entry as committed, an identity no stat matches.
      await cache.setIdentities([[path, { ctimeMs: -1, ino: cache.get(path)!.ino }]]);
    } finally {
      await cache.close();
    }
    const puts: { key: string; size: number }[] = [];
    const second = await backupOnce(ws, {}, (b) => recordPuts(b, puts));
    assert.is(second.changed, 1, "the untrusted file is read again");
    assert.equal(puts, [], "its content and entry are the same: nothing is written to the store");
    const after = await StateCache.open(ws.state);
    try {
      assert.is(after.get(path)?.ctimeMs, (await lstat(path)).ctimeMs, "the cache learned the real identity");
    } finally {
      await after.close();
    }
    assert.is((await backupOnce(ws)).changed, 0);

    // A real change of metadata alone is still an index record.
    await chmod(path, 0o600);
    const chmodPuts: { key: string; size: number }[] = [];
    const third = await backupOnce(ws, {}, (b) => recordPuts(b, chmodPuts));
    assert.is(third.changed, 1);
    assert.ok(
      chmodPuts.some((p) => p.key.includes("/batch/")),
      chmodPuts.map((p) => p.key).join(", "),
    );
  } finally {
    await ws.cleanup();
  }
});

test.run();
