import { test } from "uvu";
import * as assert from "uvu/assert";
import type { ChangeEvent } from "@rtbackup/core";
import {
  DirectoryCache,
  FidEventTranslator,
  DIRECTORY_RESCAN_REASON,
  FdEventTranslator,
  constants as C,
  emptyFanotifyStats,
  type RawFanotifyEvent,
} from "@rtbackup/plugin-fanotify";

// Handle keys start with the 16 hex digits of the fsid; the rest is opaque to the translator.
const FSID = "00000000000000aa";
const key = (n: number) => `${FSID}01000000${n.toString(16).padStart(8, "0")}`;
const ROOT = key(1);

function setup(live: Record<string, string>) {
  const stats = emptyFanotifyStats();
  const cache = new DirectoryCache(1000);
  const resolved: string[] = [];
  const translator = new FidEventTranslator({
    mounts: new Map([[FSID, { mountPoint: "/m", fd: 3 }]]),
    resolveHandle: (_fd, k) => {
      resolved.push(k);
      const path = live[k];
      if (path === undefined) throw Object.assign(new Error("ESTALE"), { errno: 116 });
      return path;
    },
    cache,
    stats,
    ownPid: 99,
  });
  return { stats, cache, translator, resolved };
}

const ev = (mask: number, fields: Partial<RawFanotifyEvent>): RawFanotifyEvent => ({ mask, pid: 1, ...fields });

test("maps masks to change events and learns directory paths from directory events", () => {
  const { translator, resolved } = setup({ [ROOT]: "/m" });
  const out: ChangeEvent[] = [];
  translator.translate(
    [
      ev(C.FAN_CREATE | C.FAN_ONDIR, { dir: ROOT, name: "d", fid: key(2) }),
      ev(C.FAN_CREATE | C.FAN_MODIFY | C.FAN_CLOSE_WRITE, { dir: key(2), name: "f" }),
      ev(C.FAN_ATTRIB | C.FAN_ONDIR, { dir: key(2), name: "." }),
      ev(C.FAN_RENAME | C.FAN_ONDIR, { dir: ROOT, name: "d", dir2: ROOT, name2: "e", fid: key(2) }),
      ev(C.FAN_MODIFY, { dir: key(2), name: "f" }),
      ev(C.FAN_DELETE, { dir: key(2), name: "f" }),
      ev(C.FAN_CREATE | C.FAN_DELETE, { dir: key(2), name: "tmp" }),
      ev(C.FAN_ATTRIB, {}),
      ev(C.FAN_MODIFY, { dir: key(2), name: "own", pid: 99 }),
    ],
    out,
  );
  assert.equal(out, [
    { type: "update", path: "/m/d" },
    { type: "update", path: "/m/d/f" },
    { type: "update", path: "/m/d" },
    { type: "move", from: "/m/d", to: "/m/e" },
    { type: "update", path: "/m/e/f" },
    { type: "delete", path: "/m/e/f" },
    { type: "update", path: "/m/e/tmp" },
  ]);
  assert.equal(resolved, [ROOT], "only the root needed the kernel; the rest was learnt");
});

test("unresolvable events wait for a later record, then become a counted rescan of the filesystem", () => {
  const { translator, stats } = setup({ [ROOT]: "/m" });
  const out: ChangeEvent[] = [];
  // rm -r of a tree never seen before: deepest entries first, all directories already gone.
  translator.translate(
    [
      ev(C.FAN_DELETE, { dir: key(3), name: "f" }),
      ev(C.FAN_DELETE | C.FAN_ONDIR, { dir: key(2), name: "y", fid: key(3) }),
      ev(C.FAN_DELETE | C.FAN_ONDIR, { dir: ROOT, name: "x", fid: key(2) }),
      ev(C.FAN_MODIFY, { dir: key(7), name: "lost" }),
    ],
    out,
  );
  assert.equal(out, [
    { type: "delete", path: "/m/x" },
    { type: "delete", path: "/m/x/y" },
    { type: "delete", path: "/m/x/y/f" },
  ]);
  assert.is(translator.pending, 1);
  assert.is(stats.unresolved, 0);
  const later: ChangeEvent[] = [];
  translator.translate([], later);
  assert.equal(later, [{ type: "rescan", path: "/m", reason: "directory of an event could not be resolved" }]);
  assert.is(stats.unresolved, 1);
  assert.is(translator.pending, 0);
});

test("flush gives up on held events at once; a rename into a vanished directory deletes its source", () => {
  const { translator, stats } = setup({ [ROOT]: "/m" });
  const out: ChangeEvent[] = [];
  translator.translate([ev(C.FAN_RENAME, { dir: ROOT, name: "a", dir2: key(5), name2: "b" })], out);
  assert.equal(out, []);
  translator.flush(out);
  assert.equal(out, [{ type: "delete", path: "/m/a" }]);
  assert.is(stats.unresolved, 1);
});

test("overflow: a rescan per marked filesystem, and directory knowledge is dropped", () => {
  const { translator, cache, stats } = setup({ [ROOT]: "/m" });
  cache.set(key(2), "/m/d");
  const out: ChangeEvent[] = [];
  translator.translate([ev(C.FAN_Q_OVERFLOW, {}), ev(C.FAN_Q_OVERFLOW, { error: 24 })], out);
  assert.equal(out, [
    { type: "rescan", path: "/m", reason: "fanotify queue overflow" },
    { type: "rescan", path: "/m", reason: "fanotify lost events (errno 24)" },
  ]);
  assert.is(cache.size, 0);
  assert.is(stats.overflows, 2);
});

test("MOVED_FROM/MOVED_TO: adjacent pairs from one task are moves; strays are delete and arrival", () => {
  const { translator } = setup({ [ROOT]: "/m" });
  const out: ChangeEvent[] = [];
  translator.translate(
    [
      ev(C.FAN_MOVED_FROM, { dir: ROOT, name: "a" }),
      ev(C.FAN_MOVED_TO, { dir: ROOT, name: "b" }),
      ev(C.FAN_MOVED_FROM, { dir: ROOT, name: "c" }),
      ev(C.FAN_MODIFY, { dir: ROOT, name: "z" }),
      ev(C.FAN_MOVED_TO | C.FAN_ONDIR, { dir: ROOT, name: "dd", fid: key(4) }),
    ],
    out,
  );
  assert.equal(out, [
    { type: "move", from: "/m/a", to: "/m/b" },
    { type: "delete", path: "/m/c" },
    { type: "update", path: "/m/z" },
    { type: "rescan", path: "/m/dd", reason: "directory moved in" },
  ]);
});

test("DirectoryCache: renames move descendants, capacity evicts the least recently used", () => {
  const cache = new DirectoryCache(3);
  cache.set("a", "/m/a");
  cache.set("b", "/m/a/b");
  cache.set("c", "/m/ab");
  cache.rename("/m/a", "/m/z");
  assert.equal([cache.get("a"), cache.get("b"), cache.get("c")], ["/m/z", "/m/z/b", "/m/ab"]);
  cache.get("a");
  cache.set("d", "/m/d");
  assert.is(cache.get("b"), undefined, "b was least recently used");
  assert.is(cache.size, 3);
});

test("fd mode: paths become updates, deleted files a rescan of their directory, losses a rescan of the mounts", () => {
  const stats = emptyFanotifyStats();
  const lost: number[] = [];
  const translator = new FdEventTranslator({ mountPoints: ["/m", "/n"], stats, ownPid: 99, onLost: (e) => lost.push(e) });
  const out: ChangeEvent[] = [];
  translator.translate(
    [
      ev(C.FAN_MODIFY, { path: "/m/a" }),
      ev(C.FAN_MODIFY, { path: Buffer.from([0x2f, 0x6d, 0x2f, 0x6c, 0x61, 0x74, 0xe9]) }),
      ev(C.FAN_CLOSE_WRITE, { path: "/m/d/b (deleted)" }),
      ev(C.FAN_MODIFY, { path: "/m/own", pid: 99 }),
      ev(C.FAN_MODIFY, { error: 2 }),
      ev(C.FAN_Q_OVERFLOW, { error: 116 }),
      ev(C.FAN_Q_OVERFLOW, {}),
    ],
    out,
  );
  const lostReason = (name: string) => `fanotify lost an event: the kernel could not open its file (${name})`;
  assert.equal(out, [
    { type: "update", path: "/m/a" },
    { type: "update", path: "/m/lat\udce9" },
    { type: "rescan", path: "/m/d", reason: "file deleted" },
    { type: "rescan", path: "/m", reason: lostReason("ENOENT") },
    { type: "rescan", path: "/n", reason: lostReason("ENOENT") },
    { type: "rescan", path: "/m", reason: lostReason("ESTALE") },
    { type: "rescan", path: "/n", reason: lostReason("ESTALE") },
    { type: "rescan", path: "/m", reason: "fanotify queue overflow" },
    { type: "rescan", path: "/n", reason: "fanotify queue overflow" },
  ]);
  assert.equal([stats.unresolved, stats.lost, stats.overflows, stats.ignored], [1, 2, 1, 1]);
  assert.equal(lost, [2, 116]);
});

test("fd mode: with rescanEventDirectories every reported file asks for a rescan of its directory", () => {
  const stats = emptyFanotifyStats();
  const translator = new FdEventTranslator({ mountPoints: ["/m"], stats, rescanEventDirectories: true });
  const out: ChangeEvent[] = [];
  translator.translate([ev(C.FAN_CLOSE_WRITE, { path: "/m/d/f" }), ev(C.FAN_CLOSE_WRITE, { path: "/m/g" })], out);
  assert.equal(out, [
    { type: "update", path: "/m/d/f" },
    { type: "rescan", path: "/m/d", reason: DIRECTORY_RESCAN_REASON },
    { type: "update", path: "/m/g" },
    { type: "rescan", path: "/m", reason: DIRECTORY_RESCAN_REASON },
  ]);
});

test.run();
