// Index records are checked field by field when read: a mode, owner, size or time that no file can have, a symlink
// without a target, content on a directory, are refused with a message naming the object, the record and the field
// (before, -1 or 0170777 as a mode and 2^32 as an owner were masked or passed on to chmod/chown). And the chunk size:
// one rule, applied when a repository is created and when it is read.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalDirectoryStorage, Repository, asRecord, chunkSizeProblem } from "@rtbackup/core";

const good = { op: "put", path: "/a", type: "file", size: 3, mtimeMs: 1795000000000.5, mode: 0o644, uid: 1000, gid: 1000, chunks: ["a".repeat(64)] };

const refused: [string, Record<string, unknown>, RegExp][] = [
  ["negative mode", { mode: -1 }, /put "\/a": mode -1 is not permission bits/],
  ["mode with file-type bits", { mode: 0o170777 }, /mode 61951 is not permission bits/],
  ["fractional mode", { mode: 420.5 }, /mode 420.5 is not permission bits/],
  ["owner 2^32", { uid: 2 ** 32 }, /uid 4294967296 is not a user id/],
  ["owner -1 (chown's 'no change')", { uid: 4294967295 }, /uid 4294967295 is not a user id/],
  ["negative group", { gid: -5 }, /gid -5 is not a group id/],
  ["negative size", { size: -1 }, /size -1 is not a size in bytes/],
  ["infinite mtime", { mtimeMs: Number.POSITIVE_INFINITY }, /mtimeMs is not a number/],
  ["mode as a string", { mode: "420" }, /mode is not a number/],
  ["symlink without a target", { type: "symlink", chunks: [] }, /a symlink without a string target/],
  ["directory with content", { type: "dir" }, /a dir with content chunks/],
  ["unknown type", { type: "socket" }, /bad type/],
];

for (const [what, change, message] of refused) {
  test(`asRecord refuses ${what}, naming where`, () => {
    try {
      asRecord({ ...good, ...change }, "index object index/batch/00000000/x record 7");
      assert.unreachable("accepted");
    } catch (err) {
      assert.match(String((err as Error).message), "index object index/batch/00000000/x record 7");
      assert.match(String((err as Error).message), message);
    }
  });
}

test("asRecord accepts the records the agent writes", () => {
  asRecord(good, "x");
  asRecord({ ...good, type: "symlink", chunks: [], target: "a" }, "x");
  asRecord({ ...good, type: "dir", chunks: [], mode: 0o7777, uid: 4294967294 }, "x");
});

test("chunk size: one rule for config, create and read", async () => {
  assert.is(chunkSizeProblem(4096), undefined);
  assert.is(chunkSizeProblem(1024 * 1024 * 1024), undefined);
  assert.match(chunkSizeProblem(2048)!, /outside 4096/);
  assert.match(chunkSizeProblem(4096.5)!, /not an integer/);
  const dir = await mkdtemp(join(tmpdir(), "rtb-chunksize-"));
  try {
    const storage = new LocalDirectoryStorage({ path: dir });
    try {
      await Repository.open(storage, { create: { chunkSize: 2048 } });
      assert.unreachable("created");
    } catch (err) {
      assert.match(String((err as Error).message), /cannot create a repository .* chunk size 2048 is outside/);
    }
    assert.is(await storage.head("config"), undefined, "nothing was written");
    await Repository.open(storage, { create: { chunkSize: 4096 } });
    assert.is((await Repository.open(storage)).config.chunkSize, 4096, "what is created can be read");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
