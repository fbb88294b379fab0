import { test } from "uvu";
import * as assert from "uvu/assert";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { collectStream, findExecutable } from "@rtbackup/core";

test("collectStream joins Buffers, Uint8Arrays and strings", async () => {
  const out = await collectStream(Readable.from([Buffer.from("ab"), new Uint8Array([99]), "dé"], { objectMode: true }));
  assert.is(out.toString("utf8"), "abcdé");
});

test("collectStream stops past its limit, destroys the stream and throws the caller's error", async () => {
  let produced = 0;
  const endless = new Readable({
    read() {
      produced++;
      this.push(Buffer.alloc(1024));
    },
  });
  const err = await collectStream(endless, { limit: 4096, tooLarge: (seen) => new Error(`too large at ${seen}`) }).catch((e: Error) => e);
  assert.instance(err, Error);
  assert.is((err as Error).message, "too large at 5120");
  assert.ok(endless.destroyed, "the stream was not destroyed");
  assert.ok(produced < 50, `kept reading: ${produced} chunks`);
});

test("collectStream at exactly its limit succeeds", async () => {
  const out = await collectStream(Readable.from([Buffer.alloc(10)]), { limit: 10 });
  assert.is(out.length, 10);
});

test("findExecutable looks a bare name up in PATH, in order, and checks an explicit path as it is", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-exec-"));
  try {
    const first = join(dir, "a");
    const second = join(dir, "b");
    await Promise.all([mkdir(first), mkdir(second)]);
    await writeFile(join(first, "tool"), "#!/bin/sh\n");
    await writeFile(join(second, "tool"), "#!/bin/sh\n");
    await chmod(join(second, "tool"), 0o755);
    // Not executable in the first directory: the second one's wins.
    assert.equal(await findExecutable("tool", `${first}:${second}`), { path: join(second, "tool") });
    assert.equal(await findExecutable("missing", `${first}:${second}`), { problem: "not found in PATH" });
    assert.equal(await findExecutable(join(dir, "nope")), { problem: "ENOENT" });
    assert.equal(await findExecutable(join(second, "tool"), ""), { path: join(second, "tool") });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
