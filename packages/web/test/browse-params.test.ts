// Every parameter of every browse route refuses what is not its form with a 400 that names the parameter: paths with
// `..`, `.`, `//`, a trailing `/`, NUL (also written as wire escapes), relative or too long; bad moments, limits and
// cursors; unknown or repeated parameters; a restore body that is not an object. Nothing is restored by a refusal.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { MIN, T0, browseApp, dir, testRepo, withTempDir } from "./browseFixture.js";

/** Path values that are not absolute, normalised paths, and what the error says about each. */
const BAD_PATHS: [string, RegExp][] = [
  ["data", /expected an absolute path/],
  ["", /expected an absolute path/],
  ["/data/../etc", /no "\." or "\.\." segment/],
  ["/..", /no "\." or "\.\." segment/],
  ["/data/.", /no "\." or "\.\." segment/],
  ["/data/./x", /no "\." or "\.\." segment/],
  ["/data\\x2f..", /no "\." or "\.\." segment/],
  ["/data/\\x2e\\x2e", /no "\." or "\.\." segment/],
  ["/data//x", /no empty segment/],
  ["//data", /no empty segment/],
  ["/data/", /no trailing "\/"/],
  ["/da\u0000ta", /NUL/],
  ["/da\\x00ta", /NUL/],
  ["/a\\q", /not a path as this API writes them/],
  [`/${"a".repeat(4096)}`, /longer than 4096 bytes/],
];

/** Each GET route with a path parameter, and the other parameters it needs. */
const PATH_ROUTES: [string, string][] = [
  ["/api/browse/list", "path"],
  ["/api/browse/file", "path"],
  ["/api/browse/tar", "path"],
  ["/api/browse/versions", "path"],
];

/** [url, query, what the error must say] for the other parameters. */
const BAD_QUERIES: [string, Record<string, string | string[]>, RegExp][] = [
  ["/api/browse/list", { at: "sometime" }, /parameter at: expected an ISO date\/time .*got "sometime"/],
  ["/api/browse/list", { at: "" }, /parameter at: expected/],
  ["/api/browse/file", { path: "/data/a", at: "3 fortnights ago" }, /parameter at: /],
  ["/api/browse/tar", { path: "/data", at: "2026-13-45" }, /parameter at: /],
  ["/api/browse/commits", { before: "soon" }, /parameter before: expected/],
  ["/api/browse/list", { limit: "0" }, /parameter limit: expected an integer from 1 to 1000, got "0"/],
  ["/api/browse/list", { limit: "1001" }, /parameter limit: .*got "1001"/],
  ["/api/browse/list", { limit: "ten" }, /parameter limit: /],
  ["/api/browse/list", { limit: "1.5" }, /parameter limit: /],
  ["/api/browse/list", { limit: "-1" }, /parameter limit: /],
  ["/api/browse/commits", { limit: "501" }, /parameter limit: expected an integer from 1 to 500/],
  ["/api/browse/list", { after: "a/b" }, /parameter after: expected one name/],
  ["/api/browse/list", { after: "a\u0000b" }, /parameter after: /],
  ["/api/browse/list", { after: "a\\x2fb" }, /parameter after: /],
  ["/api/browse/list", { after: "" }, /parameter after: /],
  ["/api/browse/list", { pth: "/data" }, /unknown parameter "pth"/],
  ["/api/browse/list", { path: ["/data", "/etc"] }, /parameter path: given more than once/],
  ["/api/browse/file", {}, /parameter path: required/],
];

/** Restore bodies that must be refused. */
const BAD_BODIES: [unknown, RegExp][] = [
  [{ path: "data", target: "/tmp/x" }, /parameter path: expected an absolute path/],
  [{ path: "/data", target: "restored" }, /parameter target: expected an absolute path/],
  [{ path: "/data", target: "/tmp/../etc" }, /parameter target: .*"\.\." segment/],
  [{ path: "/data", target: "/tmp/x\u0000y" }, /parameter target: .*NUL/],
  [{ path: "/data", target: "/tmp//x" }, /parameter target: /],
  [{ path: "/data/../..", target: "/tmp/x" }, /parameter path: /],
  [{ path: "/data" }, /parameter target: required/],
  [{ path: "/data", target: "/tmp/x", at: "whenever" }, /parameter at: /],
  [{ path: "/data", target: "/tmp/x", to: "/elsewhere" }, /unknown parameter "to"/],
  [{ path: ["/data"], target: "/tmp/x" }, /parameter path: given more than once/],
  [{ path: { nested: true }, target: "/tmp/x" }, /parameter path: expected text, got object/],
  [["/data", "/tmp/x"], /the body must be an object/],
];

test("every bad parameter is a 400 naming it", async () => {
  await withTempDir(async (root) => {
    const r = await testRepo(root, 2);
    await r.commit([dir("/data"), await r.file("/data/a", "a")], T0 + MIN);
    const app = browseApp(r.repo, root);
    for (const [url, name] of PATH_ROUTES) {
      for (const [value, says] of BAD_PATHS) {
        const res = await app.inject({ method: "GET", url, query: { [name]: value } });
        const what = `${url} ${name}=${JSON.stringify(value).slice(0, 60)}`;
        assert.is(res.statusCode, 400, `${what}: ${res.body}`);
        assert.match(res.json().error, new RegExp(`^parameter ${name}: `), what);
        assert.match(res.json().error, says, what);
      }
    }
    for (const [url, query, says] of BAD_QUERIES) {
      const res = await app.inject({ method: "GET", url, query });
      assert.is(res.statusCode, 400, `${url} ${JSON.stringify(query)}: ${res.body}`);
      assert.match(res.json().error, says, `${url} ${JSON.stringify(query)}`);
    }
    const target = join(root, "never");
    for (const [body, says] of BAD_BODIES) {
      const payload = JSON.parse(JSON.stringify(body).replaceAll("/tmp/x", target)) as Record<string, unknown>;
      const res = await app.inject({ method: "POST", url: "/api/browse/restore", payload });
      assert.is(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
      assert.match(res.json().error, says, JSON.stringify(body));
    }
    assert.not.ok(existsSync(target), "a refused restore wrote nothing");
    // The good forms of the same parameters are accepted.
    for (const query of [
      { path: "/data", at: "now", limit: "1000" },
      { path: "/", at: "1 hour ago" },
      { path: "/data", after: "a", at: String(T0 + MIN) },
    ]) {
      const res = await app.inject({ method: "GET", url: "/api/browse/list", query });
      assert.is(res.statusCode, 200, `${JSON.stringify(query)}: ${res.body}`);
    }
  });
});

test.run();
