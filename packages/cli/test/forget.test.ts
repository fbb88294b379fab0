// `rtb forget` over a history of three `rtb backup` runs: no rule is refused, a dry run prints what would go and
// changes no object, a real one keeps what the policy says (the newest version of each file; deleted files for as
// long as asked), the next backup reads nothing again, and a second run deletes the packs the first found unneeded.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, readdir, rm, stat, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rtb } from "./helpers/daemon.js";

async function listing(root: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listing(root, p)));
    else out.push(`${p} ${(await stat(join(root, p))).size}`);
  }
  return out.sort();
}

test("rtb forget: refuses without a rule; dry run changes nothing; prune keeps the policy's versions", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-forget-cli-"));
  try {
    const src = join(dir, "src");
    const store = join(dir, "store");
    const common = ["--store", store, "--state", join(dir, "state")];
    const backup = async () => {
      const r = await rtb(["backup", src, ...common, "--no-progress"]);
      assert.is(r.code, 0, r.stderr);
      return r.stderr;
    };
    await mkdir(src);
    await writeFile(join(src, "a.txt"), "a, first".repeat(100));
    await writeFile(join(src, "gone.txt"), "deleted later".repeat(100));
    await backup();
    await writeFile(join(src, "a.txt"), "a, second".repeat(100));
    await backup();
    await unlink(join(src, "gone.txt"));
    await backup();

    const none = await rtb(["forget", ...common]);
    assert.is(none.code, 2);
    assert.match(none.stderr, /no retention rule/);
    const bad = await rtb(["forget", "--keep-within", "a while", ...common]);
    assert.is(bad.code, 2);
    assert.match(bad.stderr, /--keep-within.*24h.*"a while"/);

    const before = await listing(store);
    const dry = await rtb(["forget", "--keep-last", "1", "--keep-deleted", "0", "--dry-run", ...common]);
    assert.is(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^forget \S+ +800 .*a\.txt$/m);
    assert.match(dry.stdout, /gone\.txt$/m);
    assert.match(dry.stderr, /would be forgotten/);
    assert.equal(await listing(store), before, "a dry run changes no object");

    const json = await rtb(["forget", "--keep-last", "1", "--keep-deleted", "0", "--grace", "0", "--json", ...common]);
    assert.is(json.code, 0, json.stderr);
    const lines = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const a = lines.filter((l) => l.path === join(src, "a.txt"));
    assert.equal(
      a.map((l) => [l.event, l.reason ?? null]),
      [
        ["forget", null],
        ["keep", "current"],
      ],
    );
    assert.ok(lines.some((l) => l.path === join(src, "gone.txt") && l.event === "forget"));
    assert.is(lines.at(-1)!.event, "summary");

    const versions = await rtb(["versions", join(src, "a.txt"), ...common]);
    assert.is(versions.stdout.trim().split("\n").length, 1, versions.stdout);
    const gone = await rtb(["versions", join(src, "gone.txt"), ...common]);
    assert.is(gone.code, 1, "a deleted file past --keep-deleted is gone from history");
    const cat = await rtb(["cat", join(src, "a.txt"), ...common]);
    assert.is(cat.stdout, "a, second".repeat(100));
    assert.match(await backup(), /0 new or changed, 0 deleted; 0 files read/);

    const second = await rtb(["forget", "--keep-last", "1", "--keep-deleted", "0", "--grace", "0", ...common]);
    assert.is(second.code, 0, second.stderr);
    assert.match(second.stderr, /[1-9]\d* deleted now/);
    const check = await rtb(["check", "--read-data", ...common]);
    assert.is(check.code, 0, check.stdout + check.stderr);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
