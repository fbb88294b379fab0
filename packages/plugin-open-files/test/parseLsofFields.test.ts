import { test } from "uvu";
import * as assert from "uvu/assert";
import { isLsofWriteAccess, parseLsofFields } from "@rtbackup/plugin-open-files";

// Field output as lsof 4.95 writes it with -F pfaDin0: NUL after every field, NL after each set.
const set = (...fields: string[]) => fields.map((f) => `${f}\0`).join("") + "\n";

test("parses process and file sets, devices in hex and inodes in decimal", () => {
  const out =
    set("p7364") +
    set("f3", "aw", "D0xfe00", "i2146867", "n/tmp/lsx/f1") +
    set("f4", "au", "D0xfe00", "i2146868", "n/tmp/lsx/f2") +
    set("p81") +
    set("fcwd", "a ", "D0x803", "i2", "n/") +
    set("f5", "ar", "D0x803", "i18446744073709551615", "n/var/log/big");
  assert.equal(parseLsofFields(out), [
    { pid: 7364, fd: "3", access: "w", dev: 0xfe00n, inode: 2146867n, name: "/tmp/lsx/f1" },
    { pid: 7364, fd: "4", access: "u", dev: 0xfe00n, inode: 2146868n, name: "/tmp/lsx/f2" },
    { pid: 81, fd: "cwd", access: " ", dev: 0x803n, inode: 2n, name: "/" },
    { pid: 81, fd: "5", access: "r", dev: 0x803n, inode: 18446744073709551615n, name: "/var/log/big" },
  ]);
});

test("names may hold newlines and spaces: NUL ends a field, not NL", () => {
  const out = set("p1") + set("f3", "aw", "n/tmp/a\nb c");
  assert.equal(parseLsofFields(out), [{ pid: 1, fd: "3", access: "w", name: "/tmp/a\nb c" }]);
});

test("unknown fields are ignored; a file set without an f field still starts a file", () => {
  const out = set("p9", "g9", "R1", "cbash", "u0", "L0") + set("aw", "t REG", "G0x8001;0x0", "s12", "k1", "n/x");
  assert.equal(parseLsofFields(out), [{ pid: 9, fd: "", access: "w", name: "/x" }]);
});

test("a file set with no access field has an empty access mode", () => {
  assert.equal(parseLsofFields(set("p2") + set("ftxt", "n/usr/bin/sleep")), [{ pid: 2, fd: "txt", access: "", name: "/usr/bin/sleep" }]);
});

test("malformed device or inode values are left out instead of throwing", () => {
  assert.equal(parseLsofFields(set("p3") + set("f3", "aw", "Dzz", "i-1", "n/y")), [{ pid: 3, fd: "3", access: "w", name: "/y" }]);
});

test("empty output: no files", () => {
  assert.equal(parseLsofFields(""), []);
});

test("w and u are writers (u is read-write, which DQD missed); r, space and - are not", () => {
  assert.ok(isLsofWriteAccess("w"));
  assert.ok(isLsofWriteAccess("u"));
  assert.not.ok(isLsofWriteAccess("r"));
  assert.not.ok(isLsofWriteAccess(" "));
  assert.not.ok(isLsofWriteAccess("-"));
  assert.not.ok(isLsofWriteAccess(""));
});

test.run();
