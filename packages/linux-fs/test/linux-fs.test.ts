// The addon against the real kernel: attributes read through an fd and through a path (not following a symlink),
// set through an fd and through /proc/self/fd of an O_PATH fd, holes found with SEEK_DATA/SEEK_HOLE, FIFOs made with
// mknodat relative to a directory fd, and errors shaped like Node's (code, errno, syscall).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync, ftruncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S_IFCHR, S_IFIFO, dataExtents, majorMinor, mknodAt, readXattrs, readXattrsSync, seekData, seekHole, setXattr } from "../src/index.js";

const O_PATH = 0o10000000;
let dir = "";

test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), "rtb-linux-fs-"));
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

const asText = (attrs: { name: Buffer; value: Buffer }[]) => attrs.map((a) => `${a.name.toString()}=${a.value.toString("hex")}`).sort();

test("attributes set by setfattr are read through an fd and a path; a symlink's own are read, not its target's", async () => {
  const file = join(dir, "f");
  writeFileSync(file, "x");
  execFileSync("setfattr", ["-n", "user.one", "-v", "0x00ff10", file]);
  execFileSync("setfattr", ["-n", "user.big", "-v", `0x${"ab".repeat(3000)}`, file]);
  symlinkSync("f", join(dir, "link"));
  const fd = openSync(file, "r");
  try {
    const expected = ["user.big=" + "ab".repeat(3000), "user.one=00ff10"];
    assert.equal(asText(readXattrsSync(fd)), expected);
    assert.equal(asText(await readXattrs(fd)), expected);
    assert.equal(asText(readXattrsSync(Buffer.from(file))), expected);
    assert.equal(readXattrsSync(Buffer.from(join(dir, "link"))), []);
  } finally {
    closeSync(fd);
  }
});

test("setXattr on an fd and on an O_PATH fd's /proc link reach the file itself", () => {
  const file = join(dir, "f");
  writeFileSync(file, "x");
  const fd = openSync(file, "r");
  setXattr(fd, Buffer.from("user.a"), Buffer.from([1, 2, 3]));
  closeSync(fd);
  const pinned = openSync(file, O_PATH | constants.O_NOFOLLOW);
  setXattr(Buffer.from(`/proc/self/fd/${pinned}`), Buffer.from("user.b"), Buffer.alloc(0));
  closeSync(pinned);
  assert.equal(asText(readXattrsSync(Buffer.from(file))), ["user.a=010203", "user.b="]);
  const out = execFileSync("getfattr", ["-d", "-e", "hex", file]).toString();
  assert.match(out, /user\.a=0x010203/);
});

test("errors carry code, errno and syscall; a missing path is ENOENT, a bad name EINVAL or EOPNOTSUPP", async () => {
  const missing = Buffer.from(join(dir, "nope"));
  const err = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return e as NodeJS.ErrnoException;
    }
    throw new Error("did not throw");
  };
  const e1 = err(() => readXattrsSync(missing));
  assert.is(e1.code, "ENOENT");
  assert.is(e1.syscall, "llistxattr");
  assert.is(e1.errno, 2);
  await readXattrs(missing).then(
    () => assert.unreachable("resolved"),
    (e: NodeJS.ErrnoException) => assert.is(e.code, "ENOENT"),
  );
  writeFileSync(join(dir, "f"), "");
  const fd = openSync(join(dir, "f"), "r");
  try {
    const e2 = err(() => setXattr(fd, Buffer.from("nonamespace"), Buffer.from("v")));
    assert.ok(["EOPNOTSUPP", "ENOTSUP", "EINVAL"].includes(e2.code!), e2.code);
    assert.is(e2.syscall, "fsetxattr");
  } finally {
    closeSync(fd);
  }
  assert.throws(() => setXattr(Buffer.from("a\0b"), Buffer.from("user.x"), Buffer.alloc(0)), /NUL/);
});

test("SEEK_DATA and SEEK_HOLE find the data of a sparse file", async () => {
  const file = join(dir, "sparse");
  const fd = openSync(file, "w+");
  try {
    ftruncateSync(fd, 64 * 1024 * 1024);
    writeSync(fd, Buffer.alloc(4096, 7), 0, 4096, 32 * 1024 * 1024);
    const data = seekData(fd, 0);
    assert.is(data, 32 * 1024 * 1024);
    assert.is(seekHole(fd, data), 32 * 1024 * 1024 + 4096);
    assert.is(seekData(fd, data + 4096), -1);
    assert.is(seekHole(fd, 0), 0);
    assert.equal(await dataExtents(fd, 64 * 1024 * 1024), [{ start: 32 * 1024 * 1024, end: 32 * 1024 * 1024 + 4096 }]);
    writeSync(fd, Buffer.alloc(4096, 1), 0, 4096, 0);
    assert.equal(await dataExtents(fd, 64 * 1024 * 1024, 1), undefined, "more runs than asked for");
    assert.equal((await dataExtents(fd, 64 * 1024 * 1024))?.length, 2);
  } finally {
    closeSync(fd);
  }
});

test("mknodAt makes a FIFO relative to a directory fd; a device needs CAP_MKNOD", () => {
  const dfd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    mknodAt(dfd, Buffer.from("fifo"), S_IFIFO | 0o640);
    const st = statSync(join(dir, "fifo"));
    assert.ok(st.isFIFO());
    assert.is(st.mode & 0o777, 0o640 & ~process.umask());
    try {
      mknodAt(dfd, Buffer.from("null2"), S_IFCHR | 0o600, 1, 3);
      const dev = statSync(join(dir, "null2"));
      assert.ok(dev.isCharacterDevice());
      assert.equal(majorMinor(dev.rdev), { major: 1, minor: 3 });
    } catch (err) {
      assert.is((err as NodeJS.ErrnoException).code, "EPERM");
      assert.ok(process.getuid?.() !== 0, "root may make devices");
    }
    assert.throws(
      () => mknodAt(dfd, Buffer.from("fifo"), S_IFIFO | 0o600),
      (e: NodeJS.ErrnoException) => e.code === "EEXIST",
    );
  } finally {
    closeSync(dfd);
  }
  assert.equal(majorMinor(statSync("/dev/null").rdev), { major: 1, minor: 3 });
});

test.run();
