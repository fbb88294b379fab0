import { execFileSync, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError, NativeError, PluginError } from "@rtbackup/core";
import { FanotifyGroup, FanotifySourcePlugin, constants as C, explainFanotifyError, parseFanotifyOptions } from "@rtbackup/plugin-fanotify";
import { hasCommand, withTmpfs } from "./helpers/mounts.js";
import { startSource } from "./helpers/recorder.js";

test("options are validated in the constructor with the exact option named", () => {
  const bad: [unknown, string][] = [
    ["x", "FanotifySourcePlugin.options"],
    [{ mode: "inotify" }, "FanotifySourcePlugin.options.mode"],
    [{ queue: 5 }, "FanotifySourcePlugin.options.queue"],
    [{ mountPoints: ["relative/dir"] }, "FanotifySourcePlugin.options.mountPoints[0]"],
    [{ readBufferSize: 100 }, "FanotifySourcePlugin.options.readBufferSize"],
    [{ ignoreOwnProcess: "yes" }, "FanotifySourcePlugin.options.ignoreOwnProcess"],
    [{ mountpoints: ["/x"] }, "FanotifySourcePlugin.options.mountpoints"],
  ];
  for (const [options, where] of bad) {
    try {
      new FanotifySourcePlugin(options as never);
      assert.unreachable(`${JSON.stringify(options)} accepted`);
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.is((err as ConfigError).where, where);
    }
  }
  const ok = parseFanotifyOptions({ mountPoints: ["/srv/"], queue: "unlimited" });
  assert.equal([ok.mountPoints, ok.queue, ok.mode, ok.readBufferSize], [["/srv"], "unlimited", "auto", 262144]);
});

test("a configured mount point that is not mounted fails start-up with a ConfigError", async () => {
  try {
    await startSource({ mountPoints: ["/nonexistent/rtb-mount"] });
    assert.unreachable("must fail");
  } catch (err) {
    assert.instance(err, PluginError);
    const cause = (err as PluginError).cause;
    assert.instance(cause, ConfigError);
    assert.is((cause as ConfigError).where, "FanotifySourcePlugin.options.mountPoints[0]");
    assert.match((cause as Error).message, "is not a mount point");
  }
});

test("no filesystem of the monitored types is a ConfigError naming MonitorFileSystemTypes", async () => {
  try {
    await startSource({}, { monitorFileSystemTypes: ["nosuchfs"] });
    assert.unreachable("must fail");
  } catch (err) {
    const cause = (err as PluginError).cause as ConfigError;
    assert.instance(cause, ConfigError);
    assert.is(cause.where, "MonitorFileSystemTypes");
    assert.match(cause.message, "no mounted filesystem of type nosuchfs");
  }
});

test("addon errors carry errno and syscall; kernel-feature and permission errors say what to fix", () => {
  try {
    new FanotifyGroup(0xffffffff, 0, 65536, 1);
    assert.unreachable("bogus flags accepted");
  } catch (err) {
    assert.instance(err, NativeError);
    assert.is((err as NativeError).syscall, "fanotify_init");
    assert.is((err as NativeError).errno, 22);
    assert.match((err as Error).message, "EINVAL");
  }
  const group = new FanotifyGroup(C.FAN_CLASS_NOTIF, C.O_RDONLY, 65536, 1);
  try {
    group.mark("/nonexistent/x", C.FAN_MARK_ADD | C.FAN_MARK_MOUNT, C.FAN_MODIFY);
    assert.unreachable("mark of a missing path accepted");
  } catch (err) {
    assert.instance(err, NativeError);
    assert.equal([(err as NativeError).syscall, (err as NativeError).errno], ["fanotify_mark", 2]);
  } finally {
    group.close();
    group.close();
  }
  assert.ok(group.closed);
  const einval = explainFanotifyError(new NativeError("fanotify_init", 22, "EINVAL: Invalid argument"), {
    syscall: "fanotify_init",
    what: "FAN_REPORT_DFID_NAME (Linux ≥ 5.9)",
  });
  assert.match(einval.message, "the kernel does not support FAN_REPORT_DFID_NAME (Linux ≥ 5.9)");
  assert.is((einval as NativeError).errno, 22);
  const enosys = explainFanotifyError(new NativeError("fanotify_init", 38, "ENOSYS"), { syscall: "fanotify_init", what: "" });
  assert.match(enosys.message, "CONFIG_FANOTIFY");
});

test("without CAP_SYS_ADMIN start-up fails with a permission error that says to run as root", async () => {
  if (!hasCommand("setpriv")) execFileSync("apt-get", ["install", "-y", "-q", "util-linux"], { stdio: "ignore" });
  await withTmpfs(async (mnt) => {
    const entry = pathToFileURL(createRequire(import.meta.url).resolve("@rtbackup/plugin-fanotify")).href;
    const core = pathToFileURL(createRequire(import.meta.url).resolve("@rtbackup/core")).href;
    const script = `
      const { FanotifySourcePlugin } = await import(${JSON.stringify(entry)});
      const { Engine, silentSink } = await import(${JSON.stringify(core)});
      const engine = new Engine({ log: { sink: silentSink }, plugins: [new FanotifySourcePlugin({ mountPoints: [${JSON.stringify(mnt)}] })] });
      engine.setSubmitHandler(() => {});
      try { await engine.hooks.initialize.promise(); console.log("STARTED"); }
      catch (err) { const c = err.cause; console.log(JSON.stringify({ name: c.name, errno: c.errno, syscall: c.syscall, message: c.message })); }
      await engine.hooks.shutdown.promise();`;
    const child = spawnSync("setpriv", ["--inh-caps=-sys_admin", "--bounding-set=-sys_admin", process.execPath, "--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    assert.is(child.status, 0, child.stderr);
    const result = JSON.parse(child.stdout.trim().split("\n").pop()!);
    assert.is(result.name, "NativeError");
    assert.is(result.errno, 1);
    assert.match(result.message, "needs root (CAP_SYS_ADMIN)");
  });
});

test.run();
