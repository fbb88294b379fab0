// Owners by id and by name: a backup records the user and group names of each entry's ids, and a restore as root
// gives the entry this machine's ids for those names (the recorded ids where it has no such name, or with
// numericOwner), as tar and restic do. Names come from /etc/passwd and /etc/group; hostile values are refused.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { chown, lstat, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { OwnerNames, Restorer, asRecord, parseOwnerTable } from "@rtbackup/core";
import { backupOnce, restoreAll, workspace } from "./helpers/tree.js";

const root = process.getuid?.() === 0;

test("passwd and group lines: the first line for an id or a name wins, malformed and NIS lines are ignored", () => {
  const { byId, byName } = parseOwnerTable(
    [
      "alice:x:1000:1000:Alice:/home/alice:/bin/sh",
      "alias:x:1000:1000::/:/bin/sh",
      "alice:x:2000:2000::/:/bin/sh",
      "+nis::0:0:::",
      "short:x",
      "bad:x:12a:1",
      "big:x:4294967295:1",
      "",
      "bob:x:1001:",
    ].join("\n"),
  );
  assert.equal(
    [...byId],
    [
      [1000, "alice"],
      [2000, "alice"],
      [1001, "bob"],
    ],
  );
  assert.equal(
    [...byName],
    [
      ["alice", 1000],
      ["alias", 1000],
      ["bob", 1001],
    ],
  );
});

test("a backup records the names of the ids this machine names; a restore maps them to the target's ids", async () => {
  const ws = await workspace();
  try {
    await mkdir(join(ws.src, "d"));
    await writeFile(join(ws.src, "d", "mine"), "root's");
    await writeFile(join(ws.src, "d", "nobodys"), "nobody's");
    await writeFile(join(ws.src, "d", "nameless"), "no name");
    const here = new OwnerNames();
    const nobody = { uid: here.uidOf("nobody") ?? 65534, gid: here.gidOf("nogroup") ?? here.gidOf("nobody") ?? 65534 };
    if (root) {
      await chown(join(ws.src, "d", "nobodys"), nobody.uid, nobody.gid);
      await chown(join(ws.src, "d", "nameless"), 54321, 54321);
    }
    await backupOnce(ws);
    const { tree } = await restoreAll(ws);
    const entry = (name: string) => tree.entries.get(join(ws.src, "d", name))!;
    const me = { uid: process.getuid!(), gid: process.getgid!() };
    assert.equal([entry("mine").user, entry("mine").group], [here.userOf(me.uid), here.groupOf(me.gid)], "the names of the ids, as this machine has them");
    if (root) {
      assert.equal([entry("nobodys").user, entry("nobodys").group], [here.userOf(nobody.uid), here.groupOf(nobody.gid)]);
      assert.equal(
        [entry("nameless").user, entry("nameless").group, entry("nameless").uid],
        [undefined, undefined, 54321],
        "an id with no name records no name",
      );
    }

    // The target machine knows these names under other ids.
    const passwd = join(ws.dir, "passwd");
    const group = join(ws.dir, "group");
    await writeFile(passwd, `${entry("mine").user}:x:4242:4242::/:/bin/sh\n`);
    await writeFile(group, `${entry("mine").group}:x:4343:\n`);
    const owners = new OwnerNames({ passwd, group });
    const mapped = new Restorer(tree.chunks, { owners });
    assert.equal(mapped.ownerOf(entry("mine")), { uid: 4242, gid: 4343 });
    assert.equal(
      mapped.ownerOf({ ...entry("mine"), user: "no-such-user", group: "no-such-group" }),
      { uid: entry("mine").uid, gid: entry("mine").gid },
      "unknown names keep their ids",
    );
    assert.equal(new Restorer(tree.chunks, { owners, numericOwner: true }).ownerOf(entry("mine")), { uid: entry("mine").uid, gid: entry("mine").gid });
    if (root) {
      const out = join(ws.dir, "mapped");
      const result = await new Restorer(tree.chunks, { owners, restoreOwner: true }).restore(Restorer.select(tree.entries, [ws.src], true).entries, out);
      assert.is(result.errors, 0);
      const st = await lstat(join(out, ws.src.slice(1), "d", "mine"));
      assert.equal([st.uid, st.gid], [4242, 4343], "restored under the target's ids for the names");
      const nameless = await lstat(join(out, ws.src.slice(1), "d", "nameless"));
      assert.equal([nameless.uid, nameless.gid], [54321, 54321]);
      const numeric = join(ws.dir, "numeric");
      await new Restorer(tree.chunks, { owners, restoreOwner: true, numericOwner: true }).restore(
        Restorer.select(tree.entries, [ws.src], true).entries,
        numeric,
      );
      assert.is((await lstat(join(numeric, ws.src.slice(1), "d", "mine"))).uid, 0);
    }
  } finally {
    await ws.cleanup();
  }
});

test("hostile names in an index are refused, naming the field", () => {
  const put = { op: "put", path: "/f", type: "file", size: 0, mtimeMs: 0, mode: 0o644, uid: 0, gid: 0, chunks: [] };
  assert.throws(() => asRecord({ ...put, user: "root:x:0" }, "test"), /user "root:x:0" is not a name/);
  assert.throws(() => asRecord({ ...put, group: "" }, "test"), /group "" is not a name/);
  assert.throws(() => asRecord({ ...put, user: "a".repeat(300) }, "test"), /user .* is not a name/);
  assert.throws(() => asRecord({ ...put, user: 7 }, "test"), /user 7 is not a name/);
  assert.ok(asRecord({ ...put, user: "alice", group: "staff" }, "test"));
});

test.run();
