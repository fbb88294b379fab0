import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { BackupError, ConfigError } from "@rtbackup/core";
import { LsofWriterCheck } from "@rtbackup/plugin-open-files";
import { ensureLsof } from "./helpers/ensureLsof.js";
import { fakeLsof } from "./helpers/fakeLsof.js";
import { withHolders } from "./helpers/Holder.js";

const test = suite("LsofWriterCheck: running lsof");
let dir = "";
let seq = 0;
const file = (label: string): string => {
  const path = join(dir, `${++seq}-${label}`);
  writeFileSync(path, "x");
  return path;
};
const set = (...fields: string[]) => fields.map((f) => `${f}\0`).join("") + "\n";

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), "rtb-lsof-"));
});
test.after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("a missing binary is a ConfigError naming the configured path", async () => {
  const check = new LsofWriterCheck({ lsofBinaryPath: join(dir, "no-such-lsof") });
  try {
    await check.writers([file("any")]);
    assert.unreachable("should have thrown");
  } catch (err) {
    assert.instance(err, ConfigError);
    assert.match((err as Error).message, join(dir, "no-such-lsof"));
    assert.match((err as Error).message, "ENOENT");
    assert.match((err as ConfigError).where, "LSOFBinaryPath");
  }
});

test("a binary that is not executable is a ConfigError too", async () => {
  const path = join(dir, "not-executable");
  writeFileSync(path, "#!/bin/sh\n");
  chmodSync(path, 0o644);
  try {
    await new LsofWriterCheck({ lsofBinaryPath: path }).writers([file("any")]);
    assert.unreachable("should have thrown");
  } catch (err) {
    assert.instance(err, ConfigError);
    assert.match((err as Error).message, path);
  }
});

test("exit status 1 with nothing open is an empty answer, not an error", async () => {
  const fake = fakeLsof(dir, "exit1", { exit: 1 });
  const f = file("quiet");
  assert.equal([...(await new LsofWriterCheck({ lsofBinaryPath: fake.path }).writers([f]))], []);
  assert.equal(fake.runs(), [[f]]);
});

test("exit status 1 with 'status error' lines (files gone before lsof looked) is not an error", async () => {
  const f = file("gone-later");
  const fake = fakeLsof(dir, "status-error", { exit: 1, stderr: `lsof: status error on ${f}: No such file or directory\n` });
  assert.equal([...(await new LsofWriterCheck({ lsofBinaryPath: fake.path }).writers([f]))], []);
});

test("exit status 1 with any other complaint is an error carrying lsof's words", async () => {
  const fake = fakeLsof(dir, "usage", { exit: 1, stderr: "lsof: illegal option character: Q\nlsof 4.95.0\n usage: [-?abhKlnNoOPRtUvVX]\n" });
  try {
    await new LsofWriterCheck({ lsofBinaryPath: fake.path }).writers([file("x")]);
    assert.unreachable("should have thrown");
  } catch (err) {
    assert.instance(err, BackupError);
    assert.not.instance(err, ConfigError);
    assert.match((err as Error).message, "illegal option character");
  }
});

test("another exit status is an error", async () => {
  const fake = fakeLsof(dir, "exit2", { exit: 2 });
  try {
    await new LsofWriterCheck({ lsofBinaryPath: fake.path }).writers([file("x")]);
    assert.unreachable("should have thrown");
  } catch (err) {
    assert.instance(err, BackupError);
    assert.match((err as Error).message, "exited with status 2");
  }
});

test("reported files map back to candidates by device and inode, or by name when lsof gives neither", async () => {
  const a = file("a");
  const b = file("b");
  const c = file("c");
  const other = file("not-a-candidate");
  const id = (p: string) => {
    const st = statSync(p, { bigint: true });
    return [`D0x${st.dev.toString(16)}`, `i${st.ino}`];
  };
  const stdout =
    set("p10") +
    set("f3", "au", ...id(a), "n/some/other/mount/of/a") +
    set("f4", "ar", ...id(b), `n${b}`) +
    set("f5", "aw", ...id(other), `n${c}`) +
    set("p11") +
    set("f7", "aw", `n${c}`);
  const fake = fakeLsof(dir, "mapping", { stdout });
  const writers = await new LsofWriterCheck({ lsofBinaryPath: fake.path }).writers([a, b, c]);
  assert.equal([...writers].sort(), [a, c].sort());
});

test("long candidate lists are split across runs within maxArgumentBytes", async () => {
  const files = Array.from({ length: 12 }, (_, i) => file(`chunk-${i}`));
  const fake = fakeLsof(dir, "chunks", { exit: 1 });
  const maxArgumentBytes = 3 * (Buffer.byteLength(files[0]!) + 1);
  const check = new LsofWriterCheck({ lsofBinaryPath: fake.path, maxArgumentBytes });
  await check.writers(files);
  const runs = fake.runs();
  assert.ok(runs.length >= 4, `${runs.length} runs`);
  assert.equal(check.stats.runs, runs.length);
  for (const run of runs) assert.ok(run.reduce((n, f) => n + Buffer.byteLength(f) + 1, 0) <= maxArgumentBytes);
  assert.equal(runs.flat(), files);
});

test("split runs give the same answer as one run (real lsof)", async () => {
  const lsof = ensureLsof();
  const files = Array.from({ length: 20 }, (_, i) => file(`split-${i}`));
  await withHolders(1, async ([h]) => {
    await h!.open(files[2]!, "w", 3);
    await h!.open(files[11]!, "u", 4);
    await h!.open(files[19]!, "r", 5);
    const one = new LsofWriterCheck({ lsofBinaryPath: lsof });
    const split = new LsofWriterCheck({ lsofBinaryPath: lsof, maxArgumentBytes: 200 });
    const expected = [files[2]!, files[11]!].sort();
    assert.equal([...(await one.writers(files))].sort(), expected);
    assert.equal([...(await split.writers(files))].sort(), expected);
    assert.equal(one.stats.runs, 1);
    assert.ok(split.stats.runs > 1, `${split.stats.runs} runs`);
  });
});

test("a run over timeoutMs is killed and the check fails", async () => {
  const fake = fakeLsof(dir, "hang", { hang: true });
  const started = Date.now();
  try {
    await new LsofWriterCheck({ lsofBinaryPath: fake.path, timeoutMs: 1000 }).writers([file("x")]);
    assert.unreachable("should have thrown");
  } catch (err) {
    assert.instance(err, BackupError);
    assert.match((err as Error).message, "did not finish within 1000 ms");
  }
  assert.ok(Date.now() - started < 5_000);
  const [pid] = fake.pids();
  assert.ok(pid, "the fake lsof ran");
  const deadline = Date.now() + 5_000;
  while (isAlive(pid!)) {
    if (Date.now() > deadline) {
      process.kill(pid!, "SIGKILL");
      assert.unreachable(`lsof ${pid} still running after the timeout`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
});

test("lsof is not run when no candidate exists", async () => {
  const fake = fakeLsof(dir, "unused", {});
  const check = new LsofWriterCheck({ lsofBinaryPath: fake.path });
  assert.equal([...(await check.writers([join(dir, "missing-1"), join(dir, "missing-2")]))], []);
  assert.equal(fake.runs(), []);
  assert.equal(check.stats.runs, 0);
});

test("bad options are ConfigErrors naming the option", () => {
  assert.throws(
    () => new LsofWriterCheck({ lsofBinaryPath: "" }),
    (e: unknown) => e instanceof ConfigError && /lsofBinaryPath/.test((e as Error).message),
  );
  assert.throws(
    () => new LsofWriterCheck({ timeoutMs: 0 }),
    (e: unknown) => e instanceof ConfigError && /timeoutMs/.test((e as Error).message),
  );
  assert.throws(
    () => new LsofWriterCheck({ maxArgumentBytes: 1.5 }),
    (e: unknown) => e instanceof ConfigError && /maxArgumentBytes: expected a whole number of bytes from 1 to 1048576, got 1.5/.test((e as Error).message),
  );
  assert.throws(
    () => new LsofWriterCheck({ bogus: 1 } as never),
    (e: unknown) => e instanceof ConfigError && /bogus: unknown option/.test((e as Error).message),
  );
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test.run();
