import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseHostPort } from "../src/console/resolveEndpoint.js";
import { toXml } from "../src/console/toXml.js";
import { ConsoleOutput } from "../src/console/ConsoleOutput.js";
import { rtb } from "./helpers/daemon.js";

test("parseHostPort: IPv4, names, bracketed IPv6; anything else is not host:port", () => {
  assert.equal(parseHostPort("127.0.0.1:4000"), { host: "127.0.0.1", port: 4000 });
  assert.equal(parseHostPort("localhost:1"), { host: "localhost", port: 1 });
  assert.equal(parseHostPort("[::1]:65535"), { host: "::1", port: 65535 });
  for (const bad of ["/run/x/bridge.socket", "127.0.0.1", "host:0", "host:70000", "::1:80", "a/b:80"]) assert.is(parseHostPort(bad), undefined, bad);
});

test("XML output: PascalCase elements, singular children for arrays, escaping, one RTBOutput root", () => {
  let text = "";
  const out = new ConsoleOutput("xml", (t) => void (text += t));
  out.begin();
  out.item("Statistics", { paused: false, uploads: [{ path: '/a<b>&"c"' }], errors: { last: undefined } }, () => "");
  out.end();
  assert.match(text, /^<\?xml version="1.0" encoding="utf-8"\?>\n<RTBOutput>\n {2}<Statistics TimestampUTC="\d{4}-[^"]+Z">\n/);
  assert.match(text, /<Paused>false<\/Paused>/);
  assert.match(text, /<Uploads>\n\s+<Upload>\n\s+<Path>\/a&lt;b&gt;&amp;&quot;c&quot;<\/Path>/);
  assert.match(text, /<Errors \/>/);
  assert.ok(text.endsWith("</RTBOutput>\n"));
  assert.is(toXml("Empty", []), "  <Empty />\n");
});

test("console without a daemon: a clear message and exit 1; bad usage exits 2", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-console-"));
  try {
    const missing = await rtb(["console", "stats", "--connect", join(dir, "bridge.socket")]);
    assert.is(missing.code, 1);
    assert.match(missing.stderr, /no such socket \(is the daemon running/);
    const xml = await rtb(["console", "pause", "--xml", "--connect", join(dir, "bridge.socket")]);
    assert.is(xml.code, 1);
    assert.match(xml.stdout, /<RTBOutput>\n {2}<Error TimestampUTC="[^"]+">[\s\S]*<Code>ENOENT<\/Code>[\s\S]*<\/RTBOutput>\n$/);
    assert.is((await rtb(["console", "check", "--connect", join(dir, "s")])).code, 2, "check needs paths");
    assert.is((await rtb(["console", "stats", "--json", "--xml", "--connect", join(dir, "s")])).code, 2);
    assert.is((await rtb(["console", "stats", "--repeat", "--count", "0", "--connect", join(dir, "s")])).code, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
