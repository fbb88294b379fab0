import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { ConfigError, Engine, PluginError, silentSink } from "@rtbackup/core";
import { SqliteDumpPlugin } from "@rtbackup/example-sqlite-dump";
import { ensureSqlite3, restoreAll, sqlite, testParameters, workspace } from "./helpers/workspace.js";

ensureSqlite3();

const SELECT_ALL = "SELECT id, name, hex(photo), balance FROM accounts ORDER BY id;\nSELECT count(*) FROM audit;\n";

test("the dump taken before each scan is backed up, restored, and loads into a fresh database with the same rows", async () => {
  const ws = await workspace();
  const db = join(ws.data, "app.db");
  const dumpPath = join(ws.src, "app.sql");
  sqlite(
    db,
    `CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT NOT NULL, photo BLOB, balance REAL);
     CREATE TABLE audit (at TEXT, what TEXT);
     CREATE INDEX audit_at ON audit(at);
     INSERT INTO accounts VALUES (1, 'Zoë ''quoted''', x'00ff10', 12.5), (2, 'line
break', NULL, -3);
     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
       INSERT INTO audit SELECT datetime('2026-01-01', '+' || i || ' minutes'), 'event ' || i FROM n;`,
  );
  const engine = new Engine({ parameters: testParameters(ws), log: { sink: silentSink }, plugins: [new SqliteDumpPlugin({ database: db, output: dumpPath })] });
  try {
    const runtime = await engine.start();
    await engine.initialBackup();
    // A later write must reach the backup through the dump taken before the next scan.
    sqlite(db, "INSERT INTO accounts VALUES (3, 'added later', x'abcd', 99.25); DELETE FROM audit WHERE rowid % 2 = 0;");
    const rescan = await runtime.scan("periodic");
    assert.ok(rescan.changed >= 1, `the periodic scan queued ${rescan.changed}`);
    await runtime.drain();
  } finally {
    await engine.stop();
  }
  try {
    assert.is((await restoreAll(ws)).errors, 0);
    const restoredDump = join(ws.out, dumpPath.slice(1));
    const fresh = join(ws.dir, "fresh.db");
    sqlite(fresh, await readFile(restoredDump, "utf8"));
    const expected = sqlite(db, SELECT_ALL);
    assert.ok(expected.includes("added later") && expected.includes("\n250\n"), expected);
    assert.is(sqlite(fresh, SELECT_ALL), expected);
    assert.is(sqlite(fresh, "SELECT name FROM sqlite_master WHERE type = 'index';").trim(), "audit_at");
    // No temporary dump is left beside the real one (nor backed up).
    assert.equal(await readdir(ws.src), ["app.sql"]);
  } finally {
    await ws.cleanup();
  }
});

test("a dump that cannot be taken fails the scan with the plugin's name and leaves no partial file", async () => {
  const ws = await workspace();
  const dumpPath = join(ws.src, "app.sql");
  const engine = new Engine({
    parameters: testParameters(ws),
    log: { sink: silentSink },
    plugins: [new SqliteDumpPlugin({ database: join(ws.data, "missing.db"), output: dumpPath })],
  });
  try {
    await engine.start();
    const err = await engine.initialBackup().then(
      () => assert.unreachable("the scan should fail"),
      (e: unknown) => e,
    );
    assert.instance(err, PluginError);
    assert.is((err as PluginError).plugin, "SqliteDumpPlugin");
    assert.is((err as PluginError).hook, "beforeScan");
    assert.equal(await readdir(ws.src), []);
  } finally {
    await engine.stop();
    await ws.cleanup();
  }
});

test("options are checked in the constructor, naming the option", () => {
  const bad: Array<[unknown, string]> = [
    [undefined, "SqliteDumpPlugin.options.database"],
    ["/a.db", "SqliteDumpPlugin.options"],
    [{ output: "/x.sql" }, "SqliteDumpPlugin.options.database"],
    [{ database: "rel.db", output: "/x.sql" }, "SqliteDumpPlugin.options.database"],
    [{ database: "/a.db", output: "/a.db" }, "SqliteDumpPlugin.options.output"],
    [{ database: "/a.db", output: "/x.sql", timeoutMs: 0 }, "SqliteDumpPlugin.options.timeoutMs"],
    [{ database: "/a.db", output: "/x.sql", sqlite3Path: "" }, "SqliteDumpPlugin.options.sqlite3Path"],
    [{ database: "/a.db", output: "/x.sql", typo: 1 }, "SqliteDumpPlugin.options.typo"],
  ];
  for (const [options, where] of bad) {
    try {
      new SqliteDumpPlugin(options);
      assert.unreachable(`accepted ${JSON.stringify(options)}`);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.is((err as ConfigError).where, where);
    }
  }
});

test("an unknown option is refused, naming it and the nearest known one", () => {
  try {
    new SqliteDumpPlugin({ database: "/a.db", output: "/x.sql", timeout: 1000 });
    assert.unreachable("accepted a misspelt option");
  } catch (err) {
    assert.instance(err, ConfigError);
    assert.is((err as ConfigError).where, "SqliteDumpPlugin.options.timeout");
    assert.is(
      (err as Error).message,
      "SqliteDumpPlugin.options.timeout: unknown option (did you mean timeoutMs?); known: database, output, sqlite3Path, timeoutMs",
    );
  }
});

test.run();
