// A state cache file that is not LMDB's (a disk that lied, a stray write) is never opened: LMDB trusts its file and
// garbage can crash the process. It is moved aside, named in the log, and the cache is rebuilt from the index, so
// the agent starts, backs up as before, and uploads nothing it had already stored.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Engine, StateCache } from "@rtbackup/core";
import { recordPuts } from "./helpers/counting.js";
import { backupOnce, testParameters, workspace } from "./helpers/tree.js";

test("a damaged state cache is moved aside and rebuilt from the index; a sound one is opened as it is", async () => {
  const ws = await workspace();
  try {
    for (const name of ["a.txt", "b.txt", "c.txt"]) await writeFile(join(ws.src, name), `${name} content`);
    assert.ok((await backupOnce(ws)).changed >= 3);
    const sound = await StateCache.open(ws.state);
    try {
      assert.is(sound.discarded, undefined, "the file LMDB wrote passes the check");
      assert.ok(sound.get(join(ws.src, "a.txt")), "and holds what was backed up");
    } finally {
      await sound.close();
    }

    for (const garbage of [randomBytes(64 * 1024), Buffer.from("not a database\n")]) {
      await writeFile(join(ws.state, "state.mdb"), garbage);
      const warnings: string[] = [];
      const sink = { write: (level: string, _name: string, message: string) => void (level === "warn" && warnings.push(message)) };
      const puts: { key: string; size: number }[] = [];
      const engine = new Engine({ parameters: testParameters(ws), log: { sink } });
      engine.hooks.wrapStorage.tap("test", (b) => recordPuts(b, puts));
      await engine.start();
      try {
        await engine.initialBackup();
      } finally {
        await engine.stop();
      }
      assert.ok(
        warnings.some((w) => /state cache: .*state\.mdb (has no LMDB meta pages|is \d+ bytes).*moved aside.*rebuilt from the index/.test(w)),
        warnings.join("\n"),
      );
      assert.equal(
        puts.filter((p) => p.key.startsWith("packs/")),
        [],
        "nothing already stored is uploaded again",
      );
      const aside = (await readdir(ws.state)).filter((n) => n.startsWith("state.mdb.damaged-"));
      assert.ok(aside.length >= 1);
      assert.ok(
        (await Promise.all(aside.map((n) => readFile(join(ws.state, n))))).some((b) => b.equals(garbage)),
        "the damaged file is kept for a look",
      );
      const rebuilt = await StateCache.open(ws.state);
      try {
        assert.is(rebuilt.discarded, undefined);
        assert.ok(rebuilt.get(join(ws.src, "b.txt")), "the rebuilt cache knows the files again");
      } finally {
        await rebuilt.close();
      }
    }
  } finally {
    await ws.cleanup();
  }
});

test.run();
