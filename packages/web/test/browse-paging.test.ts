// Listing a large directory a page at a time (every name once, in byte order, whatever the page size), and names
// that are not UTF-8, a backslash or a newline: listed as wire text that, given back, downloads the same bytes.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { encodeName, type IndexRecord } from "@rtbackup/core";
import { MIN, T0, browseApp, dir, get, testRepo, withTempDir } from "./browseFixture.js";
import { fromWire, toWire } from "../dist/browse/index.js";

const byBytes = (a: string, b: string) => Buffer.compare(encodeName(a), encodeName(b));

/** 450 names, in no order: plain ones, one with an é, one with an astral character, and names in subdirectories. */
function manyNames(): string[] {
  const names = Array.from({ length: 445 }, (_, i) => `f${(i * 7919) % 445}`);
  return [...names, "Zebra", "é-accent", "\u{1F600}-smile", "\uFFFD-replacement", "~tilde"];
}

test("a directory of 450 entries is listed a page at a time: every name once, in byte order", async () => {
  await withTempDir(async (root) => {
    const r = await testRepo(root, 2);
    const names = manyNames();
    const records: IndexRecord[] = [dir("/many")];
    for (const [i, name] of names.entries()) {
      // Every 50th name is a directory implied by a file in it; the rest are files.
      if (i % 50 === 0) records.push(await r.file(`/many/${name}/inner`, "x"));
      else records.push(await r.file(`/many/${name}`, name));
    }
    await r.commit(records, T0 + MIN);
    const app = browseApp(r.repo, root);
    const expected = [...names].sort(byBytes);
    for (const limit of [1000, 100, 7]) {
      const seen: string[] = [];
      let after: string | undefined;
      let pages = 0;
      do {
        const res = await get(app, "/api/browse/list", { path: "/many", limit: String(limit), ...(after === undefined ? {} : { after }) });
        assert.is(res.statusCode, 200, res.body);
        const body = res.json();
        assert.ok(body.entries.length <= limit);
        seen.push(...body.entries.map((e: { name: string }) => e.name));
        after = body.next;
        pages++;
      } while (after !== undefined);
      assert.equal(seen, expected, `limit ${limit}`);
      assert.is(pages, Math.ceil(names.length / limit));
    }
    // A cursor that names nothing listed starts after where it would sort; past the end there is nothing.
    const fromF9 = (await get(app, "/api/browse/list", { path: "/many", after: "f99a", limit: "3" })).json();
    assert.equal(
      fromF9.entries.map((e: { name: string }) => e.name),
      expected.filter((n) => byBytes(n, "f99a") > 0).slice(0, 3),
    );
    assert.equal((await get(app, "/api/browse/list", { path: "/many", after: "\u{10FFFF}" })).json().entries, []);
    const whole = (await get(app, "/api/browse/list", { path: "/many", limit: "1000" })).json().entries as { name: string; type: string }[];
    const dirs = whole.filter((e) => e.type === "directory").map((e) => e.name);
    assert.equal(dirs, names.filter((_, i) => i % 50 === 0).sort(byBytes));
  });
});

test("names that are not UTF-8 (and a backslash, a newline) are listed as wire text and download exactly", async () => {
  await withTempDir(async (root) => {
    const r = await testRepo(root, 2);
    // Core's form of the bytes "bad\xffname", "caf\xe9" (Latin-1) and a directory "d\xfe".
    const bad = "/n/bad\udcffname";
    const latin1 = "/n/caf\udce9";
    const odd = ["/n/back\\slash", "/n/new\nline", `/n/d\udcfe/inside`];
    await r.commit(
      [dir("/n"), await r.file(bad, "bytes of bad"), await r.file(latin1, "latin-1"), ...(await Promise.all(odd.map((p) => r.file(p, p))))],
      T0 + MIN,
    );
    const app = browseApp(r.repo, root);
    const listed = (await get(app, "/api/browse/list", { path: "/n" })).json();
    assert.equal(
      listed.entries.map((e: { name: string; path: string }) => [e.name, e.path]),
      [
        ["back\\\\slash", "/n/back\\\\slash"],
        ["bad\\xffname", "/n/bad\\xffname"],
        ["caf\\xe9", "/n/caf\\xe9"],
        ["d\\xfe", "/n/d\\xfe"],
        ["new\\x0aline", "/n/new\\x0aline"],
      ],
    );
    // The JSON holds no lone surrogate: every path can go into a URL as it is.
    assert.not.match(JSON.stringify(listed), /\\ud[c-f]/i);
    for (const [path, content] of [[bad, "bytes of bad"], [latin1, "latin-1"], ...odd.filter((p) => !p.includes("inside")).map((p) => [p, p])] as const) {
      const res = await get(app, "/api/browse/file", { path: toWire(path) });
      assert.is(res.statusCode, 200, `${toWire(path)}: ${res.body}`);
      assert.is(res.body, content);
    }
    const badFile = await get(app, "/api/browse/file", { path: "/n/bad\\xffname" });
    assert.is(badFile.headers["content-disposition"], `attachment; filename="bad_name"; filename*=UTF-8''bad%EF%BF%BDname`);
    const inDir = (await get(app, "/api/browse/list", { path: "/n/d\\xfe" })).json();
    assert.equal([inDir.path, inDir.entries[0].path], ["/n/d\\xfe", "/n/d\\xfe/inside"]);
    const versions = (await get(app, "/api/browse/versions", { path: "/n/caf\\xe9" })).json();
    assert.equal([versions.path, versions.versions.length], ["/n/caf\\xe9", 1]);
  });
});

test("wire text: each form and its round trip", () => {
  const cases: [string, string][] = [
    ["/plain/path", "/plain/path"],
    ["/é/\u{1F600}", "/é/\u{1F600}"],
    ["/bad\udcff", "/bad\\xff"],
    ["/a\\b", "/a\\\\b"],
    ["/tab\there", "/tab\\x09here"],
    ["/del\u007f", "/del\\x7f"],
    ["/\udc80\udcc3", "/\\x80\\xc3"],
  ];
  for (const [core, wire] of cases) {
    assert.is(toWire(core), wire, core);
    assert.is(fromWire(wire), core, wire);
  }
  // Bytes that are valid UTF-8, however written, come back as core decodes them.
  assert.is(fromWire("/caf\\xc3\\xa9"), "/café");
  assert.is(fromWire("/\\X41"), undefined);
  for (const bad of ["/a\\", "/a\\x4", "/a\\xzz", "/a\\n", "/lone\udcff", "/lone\ud800x"]) assert.is(fromWire(bad), undefined, JSON.stringify(bad));
});

test.run();
