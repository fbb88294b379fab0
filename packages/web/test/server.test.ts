// The web server's own rules, through fastify's inject: the token (header, cookie, /login), the header a write must
// carry, the page's files and their headers, and options refused at start.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError, type Logger } from "@rtbackup/core";
import { WebServer } from "@rtbackup/web";

const TOKEN = "a-token-of-twenty-four-chars";
const log: Logger = { name: "web", error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

function server(): WebServer {
  return WebServer.build({ token: TOKEN, log });
}

test("the page's files are served with their types and a content security policy, without the token", async () => {
  const s = server();
  try {
    for (const [url, type] of [
      ["/", "text/html"],
      ["/app.js", "text/javascript"],
      ["/style.css", "text/css"],
    ] as const) {
      const res = await s.app.inject({ url });
      assert.is(res.statusCode, 200, url);
      assert.ok(String(res.headers["content-type"]).startsWith(type), url);
      assert.match(String(res.headers["content-security-policy"]), /default-src 'self'/);
    }
    assert.is((await s.app.inject({ url: "/../package.json" })).statusCode, 404);
    assert.is((await s.app.inject({ url: "/public/app.js" })).statusCode, 404);
  } finally {
    await s.close();
  }
});

test("/api/ needs the token: refused without it or with a wrong one, accepted as a bearer header or the /login cookie", async () => {
  const s = server();
  try {
    assert.is((await s.app.inject({ url: "/api/anything" })).statusCode, 401);
    assert.is((await s.app.inject({ url: "/api/anything", headers: { authorization: "Bearer a-token-of-twenty-four-charX" } })).statusCode, 401);
    assert.is((await s.app.inject({ url: "/api/anything", headers: { authorization: `Bearer ${TOKEN}x` } })).statusCode, 401);
    assert.is((await s.app.inject({ url: "/api/anything", headers: { cookie: "rtb_token=nope" } })).statusCode, 401);
    // Past the guard, the route does not exist: 404, not 401.
    assert.is((await s.app.inject({ url: "/api/anything", headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, 404);
    assert.is((await s.app.inject({ url: "/login?token=wrong" })).statusCode, 401);
    const login = await s.app.inject({ url: `/login?token=${TOKEN}` });
    assert.is(login.statusCode, 303);
    const cookie = String(login.headers["set-cookie"]);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const value = cookie.split(";")[0]!;
    assert.is((await s.app.inject({ url: "/api/anything", headers: { cookie: `other=1; ${value}` } })).statusCode, 404);
  } finally {
    await s.close();
  }
});

test("a request that changes something needs the x-rtb-request header as well as the token", async () => {
  const s = server();
  try {
    const auth = { authorization: `Bearer ${TOKEN}` };
    assert.is((await s.app.inject({ method: "POST", url: "/api/pause", headers: auth })).statusCode, 403);
    assert.is((await s.app.inject({ method: "POST", url: "/api/pause", headers: { ...auth, "x-rtb-request": "1" } })).statusCode, 404);
    assert.is((await s.app.inject({ method: "POST", url: "/api/pause", headers: { "x-rtb-request": "1" } })).statusCode, 401);
  } finally {
    await s.close();
  }
});

test("a short token, an address that is not an IP and a port out of range are refused before listening", async () => {
  assert.throws(
    () => WebServer.build({ token: "short", log }),
    (e: unknown) => e instanceof ConfigError && /16 characters/.test(e.message),
  );
  for (const [options, pattern] of [
    [{ address: "localhost" }, /expected an IP address/],
    [{ port: 70000 }, /0 to 65535/],
  ] as const) {
    let error: unknown;
    await WebServer.start({ token: TOKEN, log, ...options }).catch((e: unknown) => (error = e));
    assert.ok(error instanceof ConfigError && pattern.test(error.message), String(error));
  }
});

test.run();
