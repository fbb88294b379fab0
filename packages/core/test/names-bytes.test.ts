import { test } from "uvu";
import * as assert from "uvu/assert";
import { isUtf8 } from "node:buffer";
import { mkdir, readdir, readFile, readlink, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { decodeName, encodeName, LocalDirectoryStorage } from "@rtbackup/core";
import { backupOnce, restoreAll, workspace } from "./helpers/tree.js";

const bytesPath = (base: string, ...names: Buffer[]) => Buffer.concat([Buffer.from(base), ...names.flatMap((n) => [Buffer.from("/"), n])]);
const name = (hex: string) => Buffer.from(hex, "latin1");

/** Every name under `dir` as raw bytes (hex), with its content or link target as hex: an exact description. */
async function describeBytes(dir: Buffer, rel = ""): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await readdir(dir, { withFileTypes: true, encoding: "buffer" })) {
    const full = Buffer.concat([dir, Buffer.from("/"), entry.name]);
    const key = `${rel}/${entry.name.toString("hex")}`;
    if (entry.isDirectory()) {
      out.set(key, "dir");
      for (const [k, v] of await describeBytes(full, key)) out.set(k, v);
    } else if (entry.isSymbolicLink()) out.set(key, `link ${(await readlink(full, { encoding: "buffer" })).toString("hex")}`);
    else out.set(key, `file ${(await readFile(full)).toString("hex")}`);
  }
  return out;
}

test("names that are not UTF-8 are backed up, recorded losslessly, kept by the state cache and restored byte for byte", async () => {
  const ws = await workspace();
  try {
    const src = Buffer.from(ws.src);
    await writeFile(bytesPath(ws.src, name("bad\xffname")), "bad byte");
    await writeFile(bytesPath(ws.src, name("bad\xfename")), "another bad byte: must not collide with \\xff");
    await mkdir(bytesPath(ws.src, name("lat\xe9")));
    await writeFile(bytesPath(ws.src, name("lat\xe9"), name("inner\xe9\xe8")), "Latin-1 inside Latin-1");
    await writeFile(join(ws.src, "ok-ü.txt"), "plain UTF-8");
    await symlink(name("target-\xff"), bytesPath(ws.src, name("link\xfe")));
    const want = await describeBytes(src);
    assert.is(want.size, 6);

    const first = await backupOnce(ws);
    assert.is(first.seen, 7, "the root and all six entries are walked");
    assert.equal(first.unreadable, []);

    // The index is plain UTF-8 JSON; a byte that is not UTF-8 is the escape \udcXX (docs/format.md, "Names"; v2's
    // lane batches are the same JSON lines).
    const storage = new LocalDirectoryStorage({ path: ws.store });
    let text = "";
    for await (const info of storage.list("lanes/")) {
      if (!info.key.includes("/batch/")) continue;
      const body = await readFile(join(ws.store, info.key));
      const plain = gunzipSync(body);
      assert.ok(isUtf8(plain), `${info.key} is valid UTF-8`);
      text += plain.toString("utf8");
    }
    assert.ok(text.includes("bad\\udcffname") && text.includes("lat\\udce9/inner\\udce9\\udce8"), text.slice(0, 400));
    assert.ok(text.includes('"target":"target-\\udcff"'), "a symlink target that is not UTF-8 is escaped the same way");

    // A second scan finds every name unchanged in the state cache: nothing re-queued, nothing taken for deleted.
    const second = await backupOnce(ws);
    assert.is(second.changed, 0, "no name is re-uploaded");
    assert.is(second.deleted, 0, "no name is recorded as deleted");

    const { result, tree } = await restoreAll(ws);
    assert.is(result.errors, 0);
    assert.ok(tree.entries.has(decodeName(bytesPath(ws.src, name("bad\xffname")))));
    assert.ok(
      encodeName(decodeName(bytesPath(ws.src, name("lat\xe9"), name("inner\xe9\xe8")))).equals(bytesPath(ws.src, name("lat\xe9"), name("inner\xe9\xe8"))),
    );
    assert.equal(await describeBytes(Buffer.from(join(ws.out, ws.src.slice(1)))), want);
  } finally {
    await ws.cleanup();
  }
});

test.run();
