// Extended attributes and special files beyond the fidelity tree: an attribute- or ACL-only change is a change a
// rescan commits (its ctime moved); a record's attributes and device numbers are checked like every other field; a
// restore that cannot set an attribute restores the entry, sets the others and reports the one it could not; a
// format 1 repository skips FIFOs, counting and naming them.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { lstat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Engine, Restorer, asRecord, type FileEntry } from "../src/index.js";
import { backupOnce, restoreAll, testParameters, workspace, type Workspace } from "./helpers/tree.js";

let ws: Workspace;
test.before.each(async () => {
  ws = await workspace();
});
test.after.each(() => ws.cleanup());

const getfattr = (path: string) =>
  execFileSync("getfattr", ["-h", "-d", "-m", "-", "-e", "text", "--absolute-names", path])
    .toString()
    .split("\n")
    .filter((l) => l && !l.startsWith("#"));

test("an attribute-only change and an ACL-only change are committed by the next scan; --at brings the old ones back", async () => {
  const file = join(ws.src, "notes.txt");
  await writeFile(file, "same content");
  execFileSync("setfattr", ["-n", "user.tag", "-v", "first", file]);
  await backupOnce(ws);
  const between = Date.now();
  await new Promise((r) => setTimeout(r, 20));
  execFileSync("setfattr", ["-n", "user.tag", "-v", "second", file]);
  execFileSync("setfacl", ["-m", "u:nobody:r", file]);
  await backupOnce(ws);
  const { tree } = await restoreAll(ws, { out: join(ws.dir, "now") });
  const entry = tree.entries.get(file)!;
  assert.equal(Object.keys(entry.xattrs ?? {}), ["system.posix_acl_access", "user.tag"]);
  assert.equal(getfattr(join(ws.dir, "now", file)), getfattr(file));
  await restoreAll(ws, { out: join(ws.dir, "then"), at: between });
  assert.equal(getfattr(join(ws.dir, "then", file)), ['user.tag="first"']);
});

const base: FileEntry = { path: "/x", type: "file", size: 0, mtimeMs: 1, mode: 0o644, uid: 0, gid: 0, chunks: [] };
const refused = (record: object) => assert.throws(() => asRecord({ op: "put", ...record }, "batch 7, record 3"), /batch 7, record 3: put "?\/x/);

test("hostile attribute and device fields are refused with the object, record and field named", () => {
  asRecord({ op: "put", ...base, xattrs: { "security.capability": "AQAAAg==", "user.a": "" } }, "ok");
  refused({ ...base, xattrs: { "system.nfs4_acl": "AA==" } });
  refused({ ...base, xattrs: { "user.b": "AA==", "user.a": "AA==" } });
  refused({ ...base, xattrs: { "user.a": "not base64!" } });
  refused({ ...base, xattrs: { "user.a": Buffer.alloc(70_000).toString("base64") } });
  refused({ ...base, xattrs: { [`user.${"n".repeat(300)}`]: "" } });
  refused({ ...base, xattrs: ["user.a", ""] });
  refused({ ...base, type: "chardev" });
  refused({ ...base, type: "chardev", major: -1, minor: 3 });
  refused({ ...base, type: "fifo", major: 1, minor: 3 });
  refused({ ...base, type: "socket" });
  asRecord({ op: "put", ...base, type: "blockdev", major: 7, minor: 99 }, "ok");
});

test("an attribute the kernel refuses is reported as incomplete; the entry and its other attributes are restored", async () => {
  const events: { event: string; error?: string }[] = [];
  const entries: FileEntry[] = [
    { ...base, path: "/f", xattrs: { "system.posix_acl_access": Buffer.from("garbage").toString("base64"), "user.ok": Buffer.from("yes").toString("base64") } },
    { ...base, path: "/fifo", type: "fifo", mode: 0o620, xattrs: { "user.nope": "AA==" } },
  ];
  const restorer = new Restorer({ getChunk: () => Promise.reject(new Error("no content here")) }, { onEvent: (e) => events.push(e) });
  const result = await restorer.restore(entries, ws.out);
  assert.equal([result.restored, result.errors, result.incomplete], [2, 0, 2]);
  assert.equal(getfattr(join(ws.out, "f")), ['user.ok="yes"']);
  assert.ok((await lstat(join(ws.out, "fifo"))).isFIFO());
  assert.is((await lstat(join(ws.out, "fifo"))).mode & 0o7777, 0o620);
  const incomplete = events.filter((e) => e.event === "incomplete").map((e) => e.error);
  assert.match(incomplete[0]!, /^not set: system\.posix_acl_access: (EINVAL|EOPNOTSUPP)/);
  assert.match(incomplete[1]!, /user\.nope: EPERM/, "user.* is not allowed on a FIFO");
  // With xattrs off, none is set and nothing is incomplete.
  const plain = await new Restorer({ getChunk: () => Promise.reject(new Error("none")) }, { xattrs: false }).restore(
    entries.slice(0, 1),
    join(ws.dir, "plain"),
  );
  assert.is(plain.incomplete, 0);
  assert.equal(getfattr(join(ws.dir, "plain", "f")), []);
});

test("a format 1 repository keeps no FIFO: it is counted, named once, and the rest is backed up", async () => {
  const v1 = await workspace({ format: 1 });
  try {
    execFileSync("mkfifo", [join(v1.src, "pipe")]);
    await writeFile(join(v1.src, "kept.txt"), "kept");
    const warnings: string[] = [];
    const engine = new Engine({
      parameters: testParameters(v1),
      log: { sink: { write: (level, _name, message) => void (level === "warn" && warnings.push(message)) } },
    });
    await engine.start();
    try {
      await engine.initialBackup();
      assert.is(engine.runtime.pipeline.uploader.skippedByKind.fifo, 1);
    } finally {
      await engine.stop();
    }
    assert.ok(
      warnings.some((w) => w.includes(`${join(v1.src, "pipe")} is a FIFO: not backed up (a format 1 repository`)),
      warnings.join("\n"),
    );
    const { tree } = await restoreAll(v1);
    assert.equal(
      [...tree.entries.keys()].filter((p) => p.startsWith(v1.src + "/")),
      [join(v1.src, "kept.txt")],
    );
  } finally {
    await v1.cleanup();
  }
});

test.run();
