import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  BackupError,
  ConfigValidationError,
  defaultParameters,
  defaultPathFilters,
  loadConfig,
  parseConfigObject,
  PathFilterPlugin,
  resolvePluginSpecs,
  type BackupPlugin,
} from "@rtbackup/core";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "config");
const MISSING_XML = "/nonexistent/DQD.RealTimeBackup.xml";

async function withDir(files: Record<string, string>, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "rtb-config-"));
  try {
    for (const [name, text] of Object.entries(files)) {
      await mkdir(dirname(join(dir, name)), { recursive: true });
      await writeFile(join(dir, name), text);
    }
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    assert.instance(err, Error);
    return err as Error;
  }
  assert.unreachable("expected a rejection");
  throw new Error("unreachable");
}

const YAML_CONFIG = `# rtb.config.yaml
parameters:
  uploadThreadCount: 8
  snapshotSharingWindow: PT2S
  longPollingInterval: 1500
  storage: local
  localStoragePath: ./store
  backupRoots:
    - /srv/data
    - relative/root
  pathFilters:
    - { type: Component, value: node_modules, action: Exclude }
plugins:
  - module: ./plugin-fixture.mjs
    options: { level: 2 }
preset: false
`;

test("search: rtb.config.yaml in cwd, with paths resolved against its directory", async () => {
  await withDir({ "rtb.config.yaml": YAML_CONFIG }, async (dir) => {
    const config = await loadConfig({ cwd: dir, systemXmlFile: MISSING_XML });
    assert.is(config.format, "js");
    assert.is(config.filepath, join(dir, "rtb.config.yaml"));
    assert.is(config.preset, false);
    const p = config.parameters;
    assert.is(p.uploadThreadCount, 8);
    assert.is(p.snapshotSharingWindow, 2_000);
    assert.is(p.longPollingInterval, 1_500);
    assert.is(p.localStoragePath, join(dir, "store"));
    assert.equal(p.backupRoots, ["/srv/data", join(dir, "relative/root")]);
    assert.equal(p.pathFilters, [{ type: "Component", value: "node_modules", action: "Exclude" }, ...defaultPathFilters()]);
    assert.equal(config.plugins, [{ module: "./plugin-fixture.mjs", options: { level: 2 } }]);
    assert.equal(config.warnings, []);
  });
});

test("search: JSON, .rtbrc (YAML without extension) and the search order", async () => {
  await withDir({ "rtb.config.json": '{ "parameters": { "verbosity": "Quiet", "periodicRescanInterval": "PT12H" } }' }, async (dir) => {
    const config = await loadConfig({ cwd: dir, systemXmlFile: MISSING_XML });
    assert.is(config.parameters.verbosity, "Quiet");
    assert.is(config.parameters.periodicRescanInterval, 12 * 3600_000);
  });
  await withDir({ ".rtbrc": "parameters:\n  chunkSize: 4096\n" }, async (dir) => {
    const config = await loadConfig({ cwd: dir, systemXmlFile: MISSING_XML });
    assert.is(config.parameters.chunkSize, 4096);
    assert.is(config.filepath, join(dir, ".rtbrc"));
  });
  await withDir(
    {
      "rtb.config.mjs": "export default { parameters: { uploadThreadCount: 2 } };",
      ".rtbrc.json": '{ "parameters": { "uploadThreadCount": 3 } }',
    },
    async (dir) => {
      const config = await loadConfig({ cwd: dir, systemXmlFile: MISSING_XML });
      assert.is(config.parameters.uploadThreadCount, 2, "rtb.config.mjs is found before .rtbrc.json");
    },
  );
});

test("search: a JS config may export a function and pass plugin instances", async () => {
  const js = `
    const plugin = { name: "InlinePlugin", apply() {} };
    export default async () => ({ parameters: { ipcUseTCPSocket: true }, plugins: [plugin, { module: "x", export: "Y" }] });
  `;
  await withDir({ "rtb.config.mjs": js }, async (dir) => {
    const config = await loadConfig({ cwd: dir, systemXmlFile: MISSING_XML });
    assert.is(config.parameters.ipcUseTCPSocket, true);
    assert.is((config.plugins[0] as BackupPlugin).name, "InlinePlugin");
    assert.equal(config.plugins[1], { module: "x", export: "Y" });
    assert.is(config.preset, true);
  });
});

test("search: a TypeScript config loads through cosmiconfig", async () => {
  const ts = `const threads: number = 5;\nexport default { parameters: { uploadThreadCount: threads } };\n`;
  await withDir({ "rtb.config.ts": ts }, async (dir) => {
    const config = await loadConfig({ cwd: dir, systemXmlFile: MISSING_XML });
    assert.is(config.parameters.uploadThreadCount, 5);
  });
});

test("search: nothing found → the system XML file, else built-in defaults", async () => {
  await withDir({}, async (dir) => {
    const xml = await loadConfig({ cwd: dir, systemXmlFile: join(fixtures, "dqd-minimal.xml") });
    assert.is(xml.format, "xml");
    assert.is(xml.filepath, join(fixtures, "dqd-minimal.xml"));
    assert.is(xml.parameters.storage, "b2");
    assert.is(xml.preset, true);
    const none = await loadConfig({ cwd: dir, systemXmlFile: MISSING_XML });
    assert.is(none.format, "defaults");
    assert.is(none.filepath, undefined);
    assert.equal(none.parameters, defaultParameters());
    assert.is(none.parameters.storage, "local");
  });
});

test("explicit file: XML, YAML; relative to cwd; missing file; unsupported type", async () => {
  await withDir(
    { "conf/my.yaml": YAML_CONFIG, "conf/rtb.xml": "<OperatingParameters><UploadThreadCount>6</UploadThreadCount></OperatingParameters>", "x.toml": "a = 1" },
    async (dir) => {
      const yaml = await loadConfig({ file: "conf/my.yaml", cwd: dir });
      assert.is(yaml.format, "js");
      assert.is(yaml.parameters.localStoragePath, join(dir, "conf", "store"));
      const xml = await loadConfig({ file: join(dir, "conf/rtb.xml") });
      assert.is(xml.format, "xml");
      assert.is(xml.parameters.uploadThreadCount, 6);
      const missing = await rejection(loadConfig({ file: "nope.yaml", cwd: dir }));
      assert.instance(missing, BackupError);
      assert.is((missing as BackupError).code, "CONFIG_NOT_FOUND");
      assert.match(missing.message, /^nope\.yaml: no such configuration file$/);
      const toml = await rejection(loadConfig({ file: "x.toml", cwd: dir }));
      assert.instance(toml, ConfigValidationError);
      assert.match(toml.message, /^x\.toml: unsupported file type/);
    },
  );
});

test("explicit XML file errors are named relative to cwd, with lines", async () => {
  await withDir({ "etc/rtb.xml": "<OperatingParameters>\n  <UploadThreadCount>-2</UploadThreadCount>\n</OperatingParameters>\n" }, async (dir) => {
    const err = await rejection(loadConfig({ file: "etc/rtb.xml", cwd: dir }));
    assert.is(err.message, 'etc/rtb.xml:2: <UploadThreadCount>: expected a whole number from 1 to 256, got "-2"');
  });
});

test("YAML validation: every problem, with lines and suggestions", async () => {
  const yaml = [
    "parameters:",
    "  uploadThreadCount: -2",
    "  uploadThredCount: 3",
    "  snapshotSharingWindow: PT5X",
    "  backupRoots: /srv",
    "  pathFilters:",
    "    - { type: Glob, value: x, action: Exclude }",
    "  queueLowWaterMark: 20000",
    "UploadThreadCount: 4",
    "plugins:",
    "  - { modul: ./x.mjs }",
    "preset: maybe",
    "",
  ].join("\n");
  await withDir({ "rtb.config.yaml": yaml }, async (dir) => {
    const err = await rejection(loadConfig({ cwd: dir, systemXmlFile: MISSING_XML }));
    assert.instance(err, ConfigValidationError);
    const texts = (err as ConfigValidationError).problems.map((p) => p.text);
    assert.equal(texts, [
      "rtb.config.yaml:2: parameters.uploadThreadCount: expected a whole number from 1 to 256, got -2",
      "rtb.config.yaml:3: parameters.uploadThredCount: unknown key (did you mean uploadThreadCount?)",
      'rtb.config.yaml:4: parameters.snapshotSharingWindow: expected a number of milliseconds or an xs:duration string such as "PT30S" (at most 24 days), got "PT5X"',
      'rtb.config.yaml:5: parameters.backupRoots: expected a list, got "/srv"',
      'rtb.config.yaml:7: parameters.pathFilters[0].type: expected Prefix, Component or RegularExpression, got "Glob"',
      "rtb.config.yaml:8: parameters.queueLowWaterMark: expected a number below parameters.queueHighWaterMark (10000), got 20000",
      'rtb.config.yaml:9: UploadThreadCount: unknown key (settings go under "parameters", e.g. parameters.uploadThreadCount)',
      "rtb.config.yaml:11: plugins[0].modul: unknown key (did you mean module?)",
      "rtb.config.yaml:11: plugins[0].module: expected a module name or path, got nothing",
      'rtb.config.yaml:12: preset: expected true or false, got "maybe"',
    ]);
    assert.match(err.message, /^rtb\.config\.yaml: 10 problems:\n {2}rtb\.config\.yaml:2: /);
  });
});

test("JSON validation names keys (with lines) and never echoes secrets", async () => {
  const json =
    '{\n  "parameters": {\n    "storage": "b2",\n    "remoteStorageApplicationKey": 12345678,\n    "s3SecretAccessKey": ["hunter2-secret"]\n  }\n}\n';
  await withDir({ "rtb.config.json": json }, async (dir) => {
    const err = await rejection(loadConfig({ cwd: dir, systemXmlFile: MISSING_XML }));
    const problems = (err as ConfigValidationError).problems;
    // Missing keys are placed on the line of their parent ("parameters").
    assert.equal(
      problems.map((p) => [p.line, p.subject]),
      [
        [2, "parameters.remoteStorageKeyID"],
        [2, "parameters.remoteStorageBucketID"],
        [4, "parameters.remoteStorageApplicationKey"],
        [5, "parameters.s3SecretAccessKey"],
      ],
    );
    assert.match(problems[0]!.message, /^must be set when storage is b2$/);
    assert.not.ok(err.message.includes("12345678"), err.message);
    assert.not.ok(err.message.includes("hunter2"), err.message);
    assert.match(problems[2]!.message, /^expected a string, got a value that is not shown because it is a secret$/);
  });
});

test("syntax errors in JSON and YAML give a place but never the source text", async () => {
  const secret = "K0topSecretKU";
  await withDir({ "rtb.config.json": `{\n  "parameters": {\n    "remoteStorageApplicationKey": ${secret}\n  }\n}\n` }, async (dir) => {
    const err = await rejection(loadConfig({ cwd: dir, systemXmlFile: MISSING_XML }));
    assert.instance(err, ConfigValidationError);
    assert.match(err.message, /^rtb\.config\.json:3:\d+: invalid JSON/);
    assert.not.ok(err.message.includes(secret), err.message);
  });
  await withDir({ "rtb.config.yaml": `parameters:\n  remoteStorageApplicationKey: ${secret}\n   bad: [\n` }, async (dir) => {
    const err = await rejection(loadConfig({ cwd: dir, systemXmlFile: MISSING_XML }));
    assert.instance(err, ConfigValidationError);
    assert.match(err.message, /^rtb\.config\.yaml:\d+:\d+: invalid YAML \(/);
    assert.not.ok(err.message.includes(secret), err.message);
  });
});

test("a JS config without a default export is an error", async () => {
  await withDir({ "rtb.config.mjs": "export const parameters = {};" }, async (dir) => {
    const err = await rejection(loadConfig({ file: "rtb.config.mjs", cwd: dir }));
    assert.match(err.message, /^rtb\.config\.mjs: has no default export/);
  });
});

test("parseConfigObject: storage defaults and lsof selection follow the XML rules", () => {
  const base = { file: "c.json", baseDir: "/etc/rtb" };
  const b2 = parseConfigObject({ parameters: { remoteStorageKeyID: "k", remoteStorageApplicationKey: "a", remoteStorageBucketID: "b" } }, base);
  assert.is(b2.parameters.storage, "b2");
  const lsof = parseConfigObject({ parameters: { lsofBinaryPath: "lsof" } }, base);
  assert.is(lsof.parameters.stabilityCheck, "lsof");
  assert.is(lsof.parameters.lsofBinaryPath, "lsof");
  const replaced = parseConfigObject(
    { parameters: { pathFilters: { replaceDefaults: true, rules: [{ type: "Prefix", value: "/x", action: "Exclude" }] } } },
    base,
  );
  assert.equal(replaced.parameters.pathFilters, [{ type: "Prefix", value: "/x", action: "Exclude" }]);
  assert.is(parseConfigObject({ parameters: { stagingDirectory: "../tmp" } }, base).parameters.stagingDirectory, "/etc/tmp");
});

test("resolvePluginSpecs: default and named exports from a path, a package, and instances", async () => {
  const instance: BackupPlugin = { name: "Inline", apply() {} };
  const plugins = await resolvePluginSpecs(
    [
      { module: "./plugin-fixture.mjs", options: { a: 1 } },
      { module: join(fixtures, "plugin-fixture.mjs"), export: "StrictPlugin", options: { level: 3 } },
      instance,
      { module: "@rtbackup/core", export: "PathFilterPlugin" },
    ],
    fixtures,
  );
  assert.equal(
    plugins.map((p) => p.name),
    ["FixturePlugin", "StrictPlugin", "Inline", "PathFilterPlugin"],
  );
  assert.equal((plugins[0] as unknown as { options: unknown }).options, { a: 1 });
  assert.is((plugins[1] as unknown as { level: number }).level, 3);
  assert.is(plugins[2], instance);
  assert.instance(plugins[3], PathFilterPlugin);
});

test("resolvePluginSpecs: every bad entry is named", async () => {
  const err = await rejection(
    resolvePluginSpecs(
      [
        { module: "./does-not-exist.mjs" },
        { module: "./plugin-fixture.mjs", export: "Missing" },
        { module: "./plugin-fixture.mjs", export: "notAClass" },
        { module: "./plugin-fixture.mjs", export: "StrictPlugin", options: { level: "high" } },
        { module: "./plugin-fixture.mjs", export: "NotAPlugin" },
        { module: "./plugin-fixture.mjs", export: "Exploding" },
        { module: "@rtbackup/no-such-package" },
        { module: "@rtbackup/core" },
      ],
      fixtures,
      { source: "rtb.config.yaml" },
    ),
  );
  assert.instance(err, ConfigValidationError);
  const texts = (err as ConfigValidationError).problems.map((p) => p.text);
  assert.match(texts[0]!, /^rtb\.config\.yaml: plugins\[0\]\.module: cannot import "\.\/does-not-exist\.mjs"/);
  assert.match(texts[1]!, /^rtb\.config\.yaml: plugins\[1\]\.export: "\.\/plugin-fixture\.mjs" has no export "Missing" \(it exports .*StrictPlugin/);
  assert.match(texts[2]!, /plugins\[2\]\.export: "notAClass" of "\.\/plugin-fixture\.mjs" is not a class/);
  assert.match(texts[3]!, /plugins\[3\]\.options: options\.level: expected a number$/);
  assert.match(texts[4]!, /plugins\[4\]: "NotAPlugin" of "\.\/plugin-fixture\.mjs" did not build a plugin/);
  assert.match(texts[5]!, /plugins\[5\]\.options: the constructor of "Exploding" threw: boom/);
  assert.match(texts[6]!, /plugins\[6\]\.module: cannot import "@rtbackup\/no-such-package"/);
  assert.match(texts[7]!, /plugins\[7\]: "@rtbackup\/core" has no default export \(it exports .*; set "export"\)/);
  assert.is(texts.length, 8);
});

test("resolvePluginSpecs: plugins from a loaded config resolve against its directory", async () => {
  await withDir(
    {
      "sub/rtb.config.yaml": "plugins:\n  - module: ./p.mjs\n    options: { level: 1 }\n",
      "sub/p.mjs": `export { StrictPlugin as default } from ${JSON.stringify(join(fixtures, "plugin-fixture.mjs"))};`,
    },
    async (dir) => {
      const config = await loadConfig({ file: "sub/rtb.config.yaml", cwd: dir });
      const plugins = await resolvePluginSpecs(config.plugins, dirname(config.filepath!));
      assert.equal(
        plugins.map((p) => p.name),
        ["StrictPlugin"],
      );
    },
  );
});

test.run();
