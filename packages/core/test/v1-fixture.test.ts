// A format v1 repository written by an earlier version (fixtures/v1-repository, made by its make.ts) restores
// exactly, now and as of an earlier moment: v1 stays readable whatever later versions write.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalDirectoryStorage, Repository, Restorer, loadTree } from "@rtbackup/core";
import { manifest } from "./helpers/manifest.js";

const fixture = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "v1-repository");

interface Expected {
  source: string;
  first: { at: number; tree: Record<string, unknown> };
  last: { tree: Record<string, unknown> };
}

test("the v1 fixture restores exactly: the newest state, and the state as of its first backup", async () => {
  const expected = JSON.parse(await readFile(join(fixture, "expected.json"), "utf8")) as Expected;
  const dir = await mkdtemp(join(tmpdir(), "rtb-v1-fixture-"));
  try {
    // A copy, so that nothing a reader might write lands in the fixture.
    await cp(join(fixture, "store"), join(dir, "store"), { recursive: true });
    const repo = await Repository.open(new LocalDirectoryStorage({ path: join(dir, "store") }));
    assert.is(repo.config.version, 1);
    for (const [moment, at, tree] of [
      ["last", undefined, expected.last.tree],
      ["first", expected.first.at, expected.first.tree],
    ] as const) {
      const loaded = await loadTree(repo, at === undefined ? {} : { at });
      assert.equal(loaded.damage, [], `${moment}: no damage`);
      const out = join(dir, `out-${moment}`);
      const sel = Restorer.select(loaded.entries, ["/"], true);
      const result = await new Restorer(repo).restore(sel.entries, out);
      assert.equal([result.errors, result.unsafe], [0, 0], moment);
      assert.equal(await manifest(Buffer.from(join(out, expected.source))), tree, moment);
    }
    assert.not.equal(expected.first.tree, expected.last.tree, "the two moments differ (a change, a move, a delete)");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
