// The command line is strict: an unknown option, a typo, an option without its value, an unknown command or a wrong
// number of arguments is a usage error (exit 2) that names the problem, before any configuration or store is touched.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommandLine } from "../src/CommandLine.js";
import { nearestName } from "../src/nearestName.js";
import { rtb } from "./helpers/daemon.js";
import { rtbIn } from "./helpers/rtbRun.js";

/** A small program declared like main.ts declares rtb's. */
function program(): CommandLine {
  return new CommandLine("rtb", "0.0.0")
    .option("-c, --config <file>", "config")
    .option("--store <dir>", "store")
    .option("--quiet", "quiet")
    .refuse("exclude", "use PathFilters")
    .command("list [dirs...]", "list", { alias: "ls" })
    .option("-r, --recursive", "recursive")
    .option("--at <time>", "at")
    .option("--json", "json")
    .command("restore <paths...>", "restore")
    .option("-r, --recursive", "recursive")
    .option("--to <dir>", "to")
    .option("--no-progress", "no progress")
    .command("cat <path>", "cat")
    .command("config check [file]", "check");
}

const line = (...args: string[]) => ["node", "rtb", ...args];

test("CommandLine.check: every bad line is a UsageError naming the problem", () => {
  const cases: [string[], RegExp][] = [
    [["list", "--stor", "st"], /unknown option --stor \(did you mean --store\?\)/],
    [["list", "--recursiv"], /unknown option --recursiv \(did you mean --recursive\?\)/],
    [["list", "--jsno"], /unknown option --jsno \(did you mean --json\?\)/],
    [["list", "--frobnicate"], /^unknown option --frobnicate$/],
    [["list", "-R"], /unknown option -R \(did you mean -r\?\)/],
    [["list", "-x"], /^unknown option -x$/],
    [["list", "-rx"], /^unknown option -x$/],
    [["list", "--to", "/x"], /unknown option --to \(--to is an option of rtb restore\)/],
    [["list", "--exclude", "*.o"], /there is no option --exclude: use PathFilters/],
    [["list", "--store"], /--store needs a value: --store <dir>/],
    [["list", "--store", "--json"], /--store needs a value/],
    [["list", "--store="], /--store needs a value/],
    [["list", "--at"], /--at needs a value: --at <time>/],
    [["list", "-c"], /-c needs a value: -c <file>/],
    [["list", "-cr", "f"], /-c needs a value/],
    [["list", "--store", "a", "--store", "b"], /--store given more than once/],
    [["list", "--json=yes"], /--json takes no value \(got "yes"\)/],
    [["list", "--no-json"], /unknown option --no-json/],
    [["lst"], /unknown command "lst" \(did you mean "list"\?\)/],
    [["config", "chek"], /unknown command "config chek" \(did you mean "config check"\?\)/],
    [[], /no command given; commands: list, restore, cat, config check/],
    [["restore"], /missing <paths\.\.\.>/],
    [["restore", "--to", "/tmp/x"], /missing <paths\.\.\.>/],
    [["cat", "a", "b"], /unexpected argument "b" \(it takes <path>\)/],
    [["config", "check", "a", "b"], /unexpected argument "b"/],
  ];
  for (const [args, message] of cases) {
    let caught: unknown;
    try {
      program().check(line(...args));
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof Error && caught.name === "UsageError", `${args.join(" ")}: expected a UsageError, got ${String(caught)}`);
    assert.match((caught as Error).message, message, args.join(" "));
  }
});

test("CommandLine.check: good lines pass, with the command's words moved first for sade", () => {
  const cases: [string[], string[]][] = [
    [["list"], ["list"]],
    [["ls", "-r", "/a", "/b"], ["ls", "-r", "/a", "/b"]],
    [["--store", "st", "list", "/a"], ["list", "--store", "st", "/a"]],
    [["-c", "f.xml", "config", "check"], ["config", "check", "-c", "f.xml"]],
    [["restore", "/a", "-r", "--to=/t", "--no-progress"], ["restore", "/a", "-r", "--to=/t", "--no-progress"]],
    [["list", "-rc", "f.xml", "/a"], ["list", "-rc", "f.xml", "/a"]],
    [["cat", "--", "-dash-file"], ["cat", "--", "-dash-file"]],
    [["list", "--json", "--quiet", "--at", "2026-01-01"], ["list", "--json", "--quiet", "--at", "2026-01-01"]],
    [["list", "--help", "--whatever"], ["list", "--help", "--whatever"]],
  ];
  for (const [args, ordered] of cases) assert.equal(program().check(line(...args)).slice(2), ordered, args.join(" "));
});

test("CommandLine: declaring one option name with two meanings is refused", () => {
  assert.throws(() => new CommandLine("rtb", "0").command("a", "a").option("--x <v>", "x").command("b", "b").option("--x", "x"), /conflicts with --x/);
  assert.throws(() => new CommandLine("rtb", "0").option("--store=dir", "bad"), /option declaration/);
});

test("nearestName: a prefix or a near miss, nothing for a far one", () => {
  const names = ["store", "state", "prefix", "recursive", "json"];
  const cases: [string, string | undefined][] = [
    ["stor", "store"],
    ["sotre", "store"],
    ["stat", "state"],
    ["prefx", "prefix"],
    ["recusive", "recursive"],
    ["jsn", "json"],
    ["xyz", undefined],
    ["frobnicate", undefined],
  ];
  for (const [word, want] of cases) assert.is(nearestName(word, names), want, word);
});

test("rtb: a typo never selects a default store; usage errors exit 2 before anything is opened", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-strict-"));
  try {
    const src = join(dir, "src");
    await mkdir(src);
    await writeFile(join(src, "f"), "x");
    const store = join(dir, "store");
    const backup = await rtb(["backup", src, "--store", store, "--state", join(dir, "state"), "--no-progress", "--quiet"]);
    assert.is(backup.code, 0, backup.stderr);
    const env = { XDG_STATE_HOME: join(dir, "xdg"), HOME: join(dir, "home") };
    const cases: [string[], RegExp][] = [
      [["list", "--stor", store], /^rtb list: unknown option --stor \(did you mean --store\?\)\n/],
      [["list", "--store"], /^rtb list: --store needs a value/],
      [["cat", join(src, "f"), "--store", store, "--at"], /^rtb cat: --at needs a value/],
      [["backup", src, "--store", store, "--exclude", "*.o"], /^rtb backup: there is no option --exclude/],
      [["restore", "/", "-r", "--store", store, "--to"], /^rtb restore: --to needs a value/],
      [["restore", "--store", store], /^rtb restore: missing <paths\.\.\.>/],
      [["lsit", "--store", store], /^rtb: unknown command "lsit" \(did you mean "list"\?\)/],
    ];
    for (const [args, message] of cases) {
      const r = await rtbIn(args, { cwd: dir, env, timeoutMs: 60_000 });
      assert.is(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /Run "rtb [a-z ]*--help"/);
      assert.is(r.stdout, "", "nothing was listed");
    }
    // Nothing was created for the commands that were refused: no default store, no state directory.
    assert.equal((await readdir(dir)).sort(), ["src", "state", "store"]);
    // The right spelling works, and DQD's slash arguments still do.
    const ok = await rtb(["list", "--store", store]);
    assert.is(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /\/src\/f\n/);
    const dqd = await rtb(["/LISTALLFILES", "/XML", "--store", store]);
    assert.is(dqd.code, 0, dqd.stderr);
    assert.is(JSON.parse(dqd.stdout.trim()).path, join(src, "f"));
    const dqdMissing = await rtb(["/LISTALLFILES", "/CONFIG"]);
    assert.is(dqdMissing.code, 2, dqdMissing.stderr);
    assert.match(dqdMissing.stderr, /--config needs a value/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
