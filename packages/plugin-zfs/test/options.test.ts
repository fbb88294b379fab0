import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError } from "@rtbackup/core";
import { ZfsSnapshotPlugin, parseZfsSnapshotOptions } from "@rtbackup/plugin-zfs";

function configError(options: unknown): ConfigError {
  try {
    new ZfsSnapshotPlugin(options);
  } catch (err) {
    assert.instance(err, ConfigError);
    return err as ConfigError;
  }
  throw new Error(`no ConfigError for ${JSON.stringify(options)}`);
}

test("defaults", () => {
  const o = parseZfsSnapshotOptions(undefined);
  assert.is(o.snapshotPrefix, "rtb");
  assert.is(o.cloneDirectory, "/run/rtbackup/zfs-clones");
  assert.is(o.access, "auto");
  assert.is(o.busyRetryTime, 5000);
  assert.is(o.commandTimeout, 120_000);
  assert.is(o.zfsBinaryPath, undefined);
  assert.is(new ZfsSnapshotPlugin().name, "ZfsSnapshotPlugin");
});

test("every bad value names the option and what was expected", () => {
  const cases: [unknown, string, RegExp][] = [
    ["x", "ZfsSnapshotPlugin.options", /expected an object/],
    [{ zfsBinaryPath: "zfs" }, "ZfsSnapshotPlugin.options.zfsBinaryPath", /absolute path/],
    [{ cloneDirectory: 7 }, "ZfsSnapshotPlugin.options.cloneDirectory", /absolute path/],
    [{ snapshotPrefix: "" }, "ZfsSnapshotPlugin.options.snapshotPrefix", /letters, digits/],
    [{ snapshotPrefix: "a/b" }, "ZfsSnapshotPlugin.options.snapshotPrefix", /letters, digits/],
    [{ snapshotPrefix: "rtb-" }, "ZfsSnapshotPlugin.options.snapshotPrefix", /not starting or ending/],
    [{ snapshotPrefix: "x".repeat(65) }, "ZfsSnapshotPlugin.options.snapshotPrefix", /1-64/],
    [{ access: "fast" }, "ZfsSnapshotPlugin.options.access", /expected auto, snapdir or clone, got "fast"/],
    [{ busyRetryTime: -1 }, "ZfsSnapshotPlugin.options.busyRetryTime", /expected a number of milliseconds or an xs:duration string.*got -1/],
    [{ commandTimeout: 0 }, "ZfsSnapshotPlugin.options.commandTimeout", /expected a positive number of milliseconds/],
    [{ exec: "spawn" }, "ZfsSnapshotPlugin.options.exec", /function/],
    [{ hostTag: "HOST" }, "ZfsSnapshotPlugin.options.hostTag", /8 lowercase hex/],
    [{ prefix: "rtb" }, "ZfsSnapshotPlugin.options.prefix", /unknown option/],
  ];
  for (const [options, where, message] of cases) {
    const err = configError(options);
    assert.is(err.where, where, JSON.stringify(options));
    assert.match(err.message, message);
    assert.is(err.code, "CONFIG_INVALID");
  }
});

test("valid values are kept", () => {
  const o = parseZfsSnapshotOptions({
    zfsBinaryPath: "/sbin/zfs",
    snapshotPrefix: "backup.agent:1",
    cloneDirectory: "/var/tmp/clones",
    access: "clone",
    busyRetryTime: 0,
    commandTimeout: "PT2M",
  });
  assert.is(o.zfsBinaryPath, "/sbin/zfs");
  assert.is(o.snapshotPrefix, "backup.agent:1");
  assert.is(o.access, "clone");
  assert.is(o.busyRetryTime, 0);
  assert.is(o.commandTimeout, 120_000, "a duration may be an xs:duration string, as in the parameters");
});

test.run();
