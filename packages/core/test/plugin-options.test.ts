// PluginOptions: the one options helper every plugin validates with.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  ConfigError,
  PluginOptions,
  booleanKind,
  durationKind,
  enumKind,
  functionKind,
  integerKind,
  nonEmptyTextKind,
  numberKind,
  pathKind,
} from "@rtbackup/core";

const KNOWN = ["mode", "size", "paths", "token", "timeout", "enabled", "hook", "name"];

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.instance(err, ConfigError);
    return err as ConfigError;
  }
  throw new Error("no ConfigError");
}

test("values are read by their kinds; absent options take the fallback", () => {
  const o = PluginOptions.read("DemoPlugin", { mode: "fast", size: 4096, paths: ["/srv/", "/home"], timeout: "PT1M", enabled: false }, KNOWN);
  assert.is(o.get("mode", enumKind(["fast", "slow"]), "slow"), "fast");
  assert.is(o.get("size", integerKind(1, 1 << 20, "bytes")), 4096);
  assert.equal(o.list("paths", pathKind()), ["/srv", "/home"], "paths are normalised");
  assert.is(o.get("timeout", durationKind(true), 5), 60_000, "an xs:duration string is a duration too");
  assert.is(o.get("enabled", booleanKind, true), false, "false is a value, not a missing option");
  assert.is(o.get("name", nonEmptyTextKind, "default"), "default");
  assert.is(o.get("name", nonEmptyTextKind), undefined);
  assert.is(o.list("missing-list", pathKind()), undefined);
  assert.ok(o.has("mode") && !o.has("name"));
  assert.is(o.get("size", integerKind(0)), 4096);
  for (const none of [undefined, null]) assert.is(PluginOptions.read("DemoPlugin", none, KNOWN).get("size", integerKind(0), 7), 7);
});

test("a bad value names <Owner>.options.<option>, what was expected and what was given", () => {
  const bad = (options: unknown, read: (o: PluginOptions) => unknown) => errorOf(() => read(PluginOptions.read("DemoPlugin", options, KNOWN)));
  const size = bad({ size: 1.5 }, (o) => o.get("size", integerKind(1, 10)));
  assert.is(size.where, "DemoPlugin.options.size");
  assert.is(size.message, "DemoPlugin.options.size: expected a whole number from 1 to 10, got 1.5");
  assert.is(size.code, "CONFIG_INVALID");
  const item = bad({ paths: ["/ok", "relative/dir"] }, (o) => o.list("paths", pathKind()));
  assert.is(item.where, "DemoPlugin.options.paths[1]", "a list item is named by its index");
  assert.match(item.message, 'expected an absolute path, got "relative/dir"');
  assert.is(bad({ paths: "/one" }, (o) => o.list("paths", pathKind())).message, 'DemoPlugin.options.paths: expected a list, got "/one"');
  assert.match(bad({ hook: "not a function" }, (o) => o.get("hook", functionKind)).message, "expected a function");
  assert.match(bad({ size: 0 }, (o) => o.get("size", numberKind(0.5, 2, "milliseconds"))).message, "expected a number of milliseconds from 0.5 to 2, got 0");
  const required = bad({}, (o) => o.required("name", nonEmptyTextKind, "a name"));
  assert.is(required.message, "DemoPlugin.options.name: required: expected a name");
  const failed = bad({ size: 3 }, (o) => o.fail("size", "must be even"));
  assert.is(failed.message, "DemoPlugin.options.size: must be even");
});

test("options that are not an object, and unknown names, are refused; the nearest known name is suggested", () => {
  for (const [input, shown] of [
    ["fast", '"fast"'],
    [[1], "a list"],
    [42, "42"],
  ] as const) {
    const err = errorOf(() => PluginOptions.read("DemoPlugin", input, KNOWN));
    assert.is(err.where, "DemoPlugin.options");
    assert.is(err.message, `DemoPlugin.options: expected an object of options, got ${shown}`);
  }
  const typo = errorOf(() => PluginOptions.read("DemoPlugin", { mode: "fast", szie: 1 }, KNOWN));
  assert.is(typo.where, "DemoPlugin.options.szie");
  assert.match(typo.message, "unknown option (did you mean size?); known: mode, size, paths");
  const far = errorOf(() => PluginOptions.read("DemoPlugin", { completelyDifferent: 1 }, KNOWN));
  assert.not.match(far.message, "did you mean");
});

test("a secret option's value is never shown; a custom namer names options by their source", () => {
  const secret = errorOf(() => PluginOptions.read("DemoPlugin", { token: 12345678 }, KNOWN, { secret: ["token"] }).get("token", nonEmptyTextKind));
  assert.not.match(secret.message, "12345678");
  assert.match(secret.message, "not shown because it is a secret");
  const named = errorOf(() => PluginOptions.read("DemoPlugin", { size: -1 }, KNOWN, { where: (option) => `<Demo${option}>` }).get("size", integerKind(0)));
  assert.is(named.where, "<Demosize>");
});

test("relative paths resolve against the source's directory when there is one", () => {
  const o = PluginOptions.read("DemoPlugin", { paths: ["data", "/abs"] }, KNOWN, { source: { baseDir: "/etc/rtb" } });
  assert.equal(o.list("paths", pathKind()), ["/etc/rtb/data", "/abs"]);
});

test.run();
