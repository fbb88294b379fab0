import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError, defaultParameters, Engine, PluginError, type LogSink } from "@rtbackup/core";
import { createStabilityPlugin, LsofStabilityPlugin, ProcfsStabilityPlugin } from "@rtbackup/plugin-open-files";
import { ensureLsof } from "./helpers/ensureLsof.js";
import { withHolders } from "./helpers/Holder.js";

const test = suite("stability plugins");
let dir = "";

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), "rtb-stability-"));
});
test.after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function collectingSink(): LogSink & { lines: string[] } {
  const lines: string[] = [];
  return { lines, write: (level, name, message) => lines.push(`${level} [${name}] ${message}`) };
}

test("both plugins answer the stability hook with the files open for writing", async () => {
  const written = join(dir, "written");
  const read = join(dir, "read");
  writeFileSync(written, "");
  writeFileSync(read, "");
  const lsof = ensureLsof();
  await withHolders(1, async ([h]) => {
    await h!.open(written, "u", 3);
    await h!.open(read, "r", 4);
    for (const plugin of [new ProcfsStabilityPlugin(), new LsofStabilityPlugin({ lsofBinaryPath: lsof })]) {
      const sink = collectingSink();
      const engine = new Engine({ log: { sink, verbosity: "Verbose" }, plugins: [plugin] });
      await engine.hooks.initialize.promise();
      const answer = await engine.hooks.stability.promise({ paths: [written, read, join(dir, "absent")] });
      assert.equal(answer && [...answer], [written], plugin.name);
      assert.ok(
        sink.lines.some((l) => l.includes(`[${plugin.name}]`) && l.includes("1 open for writing")),
        sink.lines.join("\n"),
      );
    }
  });
});

test("plugin names are their class names", () => {
  assert.is(new ProcfsStabilityPlugin().name, "ProcfsStabilityPlugin");
  assert.is(new LsofStabilityPlugin().name, "LsofStabilityPlugin");
});

test("a wrong LSOFBinaryPath stops initialize with a ConfigError naming the path", async () => {
  const missing = join(dir, "bin", "lsof");
  const engine = new Engine({ log: { sink: collectingSink() }, plugins: [new LsofStabilityPlugin({ lsofBinaryPath: missing })] });
  try {
    await engine.hooks.initialize.promise();
    assert.unreachable("initialize should fail");
  } catch (err) {
    assert.instance(err, PluginError);
    assert.is((err as PluginError).plugin, "LsofStabilityPlugin");
    assert.instance((err as PluginError).cause, ConfigError);
    assert.match((err as Error).message, missing);
    assert.match((err as Error).message, "LSOFBinaryPath");
  }
});

test("a bare binary name is looked up in PATH", async () => {
  ensureLsof();
  const found = new Engine({ log: { sink: collectingSink() }, plugins: [new LsofStabilityPlugin({ lsofBinaryPath: "lsof" })] });
  await found.hooks.initialize.promise();
  const missing = new Engine({ log: { sink: collectingSink() }, plugins: [new LsofStabilityPlugin({ lsofBinaryPath: "no-such-lsof-here" })] });
  try {
    await missing.hooks.initialize.promise();
    assert.unreachable("initialize should fail");
  } catch (err) {
    assert.match((err as Error).message, /"no-such-lsof-here" \(not found in PATH\)/);
  }
});

test("options are validated in the constructor, errors name the plugin's option", () => {
  assert.throws(
    () => new ProcfsStabilityPlugin({ sliceMs: -1 }),
    (e: unknown) => e instanceof ConfigError && e.where === "ProcfsStabilityPlugin.options.sliceMs",
  );
  assert.throws(
    () => new LsofStabilityPlugin({ timeoutMs: Number.NaN }),
    (e: unknown) => e instanceof ConfigError && e.where === "LsofStabilityPlugin.options.timeoutMs",
  );
  assert.throws(
    () => new ProcfsStabilityPlugin({ lsofBinaryPath: "/usr/bin/lsof" } as never),
    (e: unknown) => e instanceof ConfigError && e.where === "ProcfsStabilityPlugin.options.lsofBinaryPath",
  );
});

test("without root, the procfs plugin warns once that some processes could not be read", async () => {
  if (process.getuid?.() !== 0) {
    console.log("  SKIPPED warn-once case: needs root to run the plugin as another user");
    return;
  }
  const f = join(dir, "for-nobody");
  writeFileSync(f, "");
  chmodSync(dir, 0o755);
  const script = `
    import { Engine } from "@rtbackup/core";
    import { ProcfsStabilityPlugin } from "@rtbackup/plugin-open-files";
    const lines = [];
    const sink = { write: (level, name, message) => lines.push(level + " " + name + " " + message) };
    const engine = new Engine({ log: { sink }, plugins: [new ProcfsStabilityPlugin()] });
    for (let i = 0; i < 3; i++) await engine.hooks.stability.promise({ paths: [${JSON.stringify(f)}] });
    process.stdout.write(JSON.stringify(lines.filter((l) => l.startsWith("warn "))));
  `;
  // This test's own process runs as root, so there is always one process nobody may not inspect.
  const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
    cwd: join(dirname(fileURLToPath(import.meta.url)), ".."),
    uid: 65534,
    gid: 65534,
    timeout: 30_000,
  });
  const warnings = JSON.parse(stdout) as string[];
  assert.is(warnings.length, 1, stdout);
  assert.match(warnings[0]!, /ProcfsStabilityPlugin could not read the open files of \d+ process\(es\).*run the agent as root/);
});

test("createStabilityPlugin follows stabilityCheck and lsofBinaryPath", () => {
  const defaults = defaultParameters();
  const procfs = createStabilityPlugin(defaults);
  assert.instance(procfs, ProcfsStabilityPlugin);
  const lsof = createStabilityPlugin({ ...defaults, stabilityCheck: "lsof", lsofBinaryPath: "/opt/lsof/bin/lsof" });
  assert.instance(lsof, LsofStabilityPlugin);
  assert.is((lsof as LsofStabilityPlugin).check.binaryPath, "/opt/lsof/bin/lsof");
});

test.run();
