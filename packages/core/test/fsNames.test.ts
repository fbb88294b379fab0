import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeName, encodeName, fsPath, hasEscapedBytes } from "@rtbackup/core";

const hex = (s: string): Buffer => Buffer.from(s.replace(/ /g, ""), "hex");

// bytes → the agent's string form
const CASES: [string, string, string][] = [
  ["ascii", "61 62 63", "abc"],
  ["utf-8 é", "c3 a9", "é"],
  ["emoji (4 bytes)", "f0 9f 92 80", "\u{1F480}"],
  ["lone 0xff", "62 61 64 ff 6e 61 6d 65", "bad\udcffname"],
  ["latin-1 é", "6c 61 74 e9", "lat\udce9"],
  ["truncated sequence", "e2 82", "\udce2\udc82"],
  ["overlong slash", "c0 af", "\udcc0\udcaf"],
  ["overlong 3-byte", "e0 80 af", "\udce0\udc80\udcaf"],
  ["surrogate in UTF-8 (CESU)", "ed b2 80", "\udced\udcb2\udc80"],
  ["above U+10FFFF", "f4 90 80 80", "\udcf4\udc90\udc80\udc80"],
  ["valid after invalid", "ff c3 a9", "\udcffé"],
  ["stray continuation", "80 41", "\udc80A"],
];

for (const [name, bytes, expected] of CASES) {
  test(`decodeName: ${name}`, () => {
    const decoded = decodeName(hex(bytes));
    assert.is(decoded, expected);
    assert.equal(encodeName(decoded), hex(bytes), "round trip back to the same bytes");
    assert.is(hasEscapedBytes(decoded), /\\udc/.test(JSON.stringify(decoded)));
  });
}

test("escaped names survive JSON (the index) unchanged", () => {
  const name = decodeName(hex("6c 61 74 e9 2f f0 9f 92 80"));
  const text = JSON.stringify({ path: name });
  assert.ok(text.includes("\\udce9"), text);
  assert.is(JSON.parse(text).path, name);
});

test("fsPath gives the string for UTF-8 names and the exact bytes otherwise", () => {
  assert.is(fsPath("/a/é/\u{1F480}"), "/a/é/\u{1F480}");
  assert.equal(fsPath("/a/lat\udce9"), Buffer.concat([Buffer.from("/a/lat"), Buffer.of(0xe9)]));
});

test("a real file with a non-UTF-8 name is found, read and written through these functions", () => {
  const dir = mkdtempSync(join(tmpdir(), "rtb-names-"));
  try {
    const raw = Buffer.concat([Buffer.from(dir + "/bad"), Buffer.of(0xff), Buffer.from("name")]);
    writeFileSync(raw, "content");
    const [entry] = readdirSync(dir, { encoding: "buffer" });
    const name = decodeName(entry!);
    assert.is(name, "bad\udcffname");
    assert.is(readFileSync(fsPath(join(dir, name)), "utf8"), "content");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
