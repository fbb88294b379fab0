// POST /api/browse/restore: a directory's subtree and a single file restored as of a moment under a target, with
// the right bytes, modes and symlinks, names that are not UTF-8 restored as their bytes, and the counts answered.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { lstat, readFile, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { encodeName } from "@rtbackup/core";
import { MIN, T0, browseApp, dir, keptLog, link, testRepo, withTempDir } from "./browseFixture.js";

const t1 = T0 + MIN;
const t2 = T0 + 2 * MIN;
const BIG = randomBytes(200_000);

async function scripted(root: string, format: 1 | 2) {
  const r = await testRepo(root, format);
  await r.commit(
    [
      dir("/srv"),
      dir("/srv/app", 0o750),
      await r.file("/srv/app/config.ini", "mode = one", { mode: 0o600 }),
      await r.file("/srv/app/data.bin", BIG, { blobSize: 30_000 }),
      await r.file("/srv/app/logs/today.log", "implied directory"),
      await r.file("/srv/app/bad\udcff", "a name that is not UTF-8"),
      link("/srv/app/current", "config.ini"),
      await r.file("/srv/elsewhere", "not asked for"),
    ],
    t1,
  );
  await r.commit([await r.file("/srv/app/config.ini", "mode = two, later"), { op: "delete", path: "/srv/app/data.bin" }], t2);
  return r;
}

const restore = (app: ReturnType<typeof browseApp>, payload: Record<string, unknown>) => app.inject({ method: "POST", url: "/api/browse/restore", payload });

for (const format of [1, 2] as const) {
  test(`v${format}: a directory restored as of a moment lands under the target, byte for byte`, async () => {
    await withTempDir(async (root) => {
      const r = await scripted(root, format);
      const { log, lines } = keptLog();
      const app = browseApp(r.repo, root, log);
      const target = join(root, "restored");
      const res = await restore(app, { path: "/srv/app", target, at: new Date(t1).toISOString() });
      assert.is(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal([body.path, body.at, body.target, body.restored, body.failed, body.failures], ["/srv/app", new Date(t1).toISOString(), target, 6, 0, []]);
      assert.is(body.bytes, 10 + BIG.length + 17 + 24);
      const app0 = join(target, "srv/app");
      assert.is(await readFile(join(app0, "config.ini"), "utf8"), "mode = one");
      assert.is((await lstat(join(app0, "config.ini"))).mode & 0o777, 0o600);
      assert.is((await lstat(app0)).mode & 0o777, 0o750);
      assert.ok((await readFile(join(app0, "data.bin"))).equals(BIG));
      assert.is(await readFile(join(app0, "logs/today.log"), "utf8"), "implied directory");
      assert.is(await readlink(join(app0, "current")), "config.ini");
      assert.is(await readFile(Buffer.concat([encodeName(app0), encodeName("/bad\udcff")]), "utf8"), "a name that is not UTF-8");
      assert.equal((await readdir(join(target, "srv"))).sort(), ["app"]);
      assert.ok(lines.info.some((l) => l.includes("restore of /srv/app as of") && l.includes("6 restored, 0 failed")));
    });
  });

  test(`v${format}: a single file restored as of now; a path that is not there is a 404`, async () => {
    await withTempDir(async (root) => {
      const r = await scripted(root, format);
      const app = browseApp(r.repo, root);
      const target = join(root, "one");
      const res = await restore(app, { path: "/srv/app/config.ini", target });
      assert.is(res.statusCode, 200, res.body);
      assert.is(res.json().restored, 1);
      assert.is(await readFile(join(target, "srv/app/config.ini"), "utf8"), "mode = two, later");
      assert.equal(await readdir(join(target, "srv/app")), ["config.ini"]);
      const gone = await restore(app, { path: "/srv/app/data.bin", target });
      assert.is(gone.statusCode, 404);
      assert.match(gone.json().error, /parameter path: "\/srv\/app\/data\.bin" is not in the backup as of/);
      const bad = await restore(app, { path: "/srv/app/bad\\xff", target, at: String(t1) });
      assert.is(bad.statusCode, 200, bad.body);
      assert.is(await readFile(Buffer.concat([encodeName(target), encodeName("/srv/app/bad\udcff")]), "utf8"), "a name that is not UTF-8");
    });
  });
}

test.run();
