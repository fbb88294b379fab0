// `rtb list | head`, `rtb cat … | head -c 10` and `rtb restore … | head` through real pipes: the reader going away
// is no crash (no EPIPE stack trace), and a restore whose output nobody reads any more still restores everything.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rtb } from "./helpers/daemon.js";
import { rtbCommand, runProcess, shellQuote } from "./helpers/rtbRun.js";

/** Runs `rtb args | reader` in sh; rtb's own exit status and stderr are kept in files, as a shell user would see them. */
async function piped(args: string[], reader: string, dir: string): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  const status = join(dir, "status");
  const errors = join(dir, "errors");
  const script = `{ ${rtbCommand(args)} 2>${shellQuote(errors)}; echo $? >${shellQuote(status)}; } | ${reader}`;
  const r = await runProcess("sh", ["-c", `${script} > ${shellQuote(join(dir, "read"))}`], { timeoutMs: 120_000 });
  assert.is(r.code, 0, `sh: ${r.stderr}`);
  return { code: Number((await readFile(status, "utf8")).trim()), stdout: await readFile(join(dir, "read")), stderr: await readFile(errors, "utf8") };
}

// More than a pipe buffer (64 KiB) of output, so the writer is still writing when the reader has gone.
const FILES = 700;
const LONG = "n".repeat(120);

test("rtb list | head, rtb cat | head -c 10, rtb restore | head: quiet exits and a complete restore", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-pipes-"));
  try {
    const src = join(dir, "src");
    await mkdir(join(src, "many"), { recursive: true });
    for (let i = 0; i < FILES; i++) await writeFile(join(src, "many", `${LONG}-${i}`), `file ${i}\n`);
    const big = randomBytes(3 << 20);
    await writeFile(join(src, "big.bin"), big);
    const store = join(dir, "store");
    const backup = await rtb(["backup", src, "--store", store, "--state", join(dir, "state"), "--no-progress", "--quiet"]);
    assert.is(backup.code, 0, backup.stderr);

    const list = await piped(["list", "--store", store], "head -n 3", dir);
    assert.is(list.stdout.toString().split("\n").length, 4, "head printed three lines");
    assert.not.match(list.stderr, /EPIPE|uncaught| {4}at /, list.stderr);
    assert.is(list.code, 0, list.stderr);

    const cat = await piped(["cat", join(src, "big.bin"), "--store", store], "head -c 10", dir);
    assert.ok(cat.stdout.equals(big.subarray(0, 10)), "the first ten bytes");
    assert.not.match(cat.stderr, /EPIPE|uncaught| {4}at /, cat.stderr);
    assert.is(cat.code, 0, cat.stderr);

    const out = join(dir, "out");
    const restore = await piped(["restore", src, "-r", "--store", store, "--to", out], "head -n 3", dir);
    assert.is(restore.stdout.toString().split("\n").length, 4);
    assert.match(restore.stdout.toString(), /^restored /);
    assert.not.match(restore.stderr, /EPIPE|uncaught| {4}at /, restore.stderr);
    assert.match(restore.stderr, new RegExp(`restore done: ${FILES + 3} restored`), "the summary reaches stderr");
    assert.is(restore.code, 0, restore.stderr);
    const restored = join(out, src.slice(1));
    assert.is((await readdir(join(restored, "many"))).length, FILES, "every file was restored after head exited");
    assert.is(await readFile(join(restored, "many", `${LONG}-${FILES - 1}`), "utf8"), `file ${FILES - 1}\n`);
    assert.ok((await readFile(join(restored, "big.bin"))).equals(big));

    // The same with --json: every event is still produced, the restore completes.
    const out2 = join(dir, "out2");
    const json = await piped(["restore", src, "-r", "--store", store, "--to", out2, "--json"], "head -n 1", dir);
    assert.is(json.code, 0, json.stderr);
    assert.not.match(json.stderr, /EPIPE|uncaught/);
    assert.is((await readdir(join(out2, src.slice(1), "many"))).length, FILES);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a stdout that fails for another reason than a closed reader is an error (rtb cat > /dev/full)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-pipes-"));
  try {
    const src = join(dir, "src");
    await mkdir(src);
    await writeFile(join(src, "f"), randomBytes(200_000));
    const store = join(dir, "store");
    assert.is((await rtb(["backup", src, "--store", store, "--state", join(dir, "state"), "--no-progress", "--quiet"])).code, 0);
    const r = await runProcess("sh", ["-c", `${rtbCommand(["cat", join(src, "f"), "--store", store])} > /dev/full`]);
    assert.is(r.code, 1, r.stderr);
    assert.match(r.stderr, /rtb cat: cannot write to standard output: .*ENOSPC/);
    assert.not.match(r.stderr, /uncaught| {4}at /);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
