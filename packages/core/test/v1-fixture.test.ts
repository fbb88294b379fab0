// A format v1 repository written by an earlier version (fixtures/v1-repository, made by its make.mjs) restores
// exactly, now and as of an earlier moment: v1 stays readable whatever later versions write.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { cp, lstat, mkdtemp, readdir, readFile, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalDirectoryStorage, Repository, Restorer, loadTree } from "@rtbackup/core";

const fixture = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "v1-repository");

interface Expected {
  source: string;
  first: { at: number; tree: Record<string, unknown> };
  last: { tree: Record<string, unknown> };
}

/** The same listing as make.mjs writes: entries keyed by the hex of their path's bytes. */
async function manifest(root: Buffer): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  async function visit(dir: Buffer, rel: string) {
    for (const raw of (await readdir(dir, { encoding: "buffer" })).sort(Buffer.compare)) {
      const p = Buffer.concat([dir, Buffer.from("/"), raw]);
      const key = `${rel}/${raw.toString("hex")}`;
      const st = await lstat(p);
      if (st.isDirectory()) {
        out[key] = { type: "dir", mode: st.mode & 0o7777 };
        await visit(p, key);
      } else if (st.isSymbolicLink()) out[key] = { type: "symlink", target: (await readlink(p, { encoding: "buffer" })).toString("hex") };
      else {
        const sha256 = createHash("sha256")
          .update(await readFile(p))
          .digest("hex");
        out[key] = { type: "file", mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs), size: st.size, sha256 };
      }
    }
  }
  await visit(root, "");
  return out;
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
