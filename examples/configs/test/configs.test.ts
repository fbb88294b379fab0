import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const repo = resolve(here, "../../..");
const configs = resolve(here, "..");
const rtbBin = join(repo, "packages/cli/bin/rtb.js");

/** Runs the rtb command; resolves with its exit code and output (never rejects on a non-zero exit). */
function rtb(args: string[], cwd = repo): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [rtbBin, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", fail);
    child.on("close", (code) => done({ code: code ?? 1, stdout, stderr }));
  });
}

test("every ready config passes rtb config check", async () => {
  const files = (await readdir(configs)).filter((f) => /\.(json|xml|mjs|yaml)$/.test(f) && f !== "package.json").sort();
  assert.equal(files, ["default-preset.OperatingParameters.xml", "local-plugin.rtb.config.yaml", "quickstart.rtb.config.json", "rtb.config.mjs"]);
  for (const file of files) {
    const r = await rtb(["config", "check", join(configs, file)]);
    assert.is(r.code, 0, `${file}: ${r.stderr}`);
    assert.match(r.stderr, `${file}: OK`);
  }
});

test("the default preset XML means fanotify + ZFS + procfs + B2, and its credentials print masked", async () => {
  const r = await rtb(["config", "check", "--print", join(configs, "default-preset.OperatingParameters.xml")]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, "storage b2");
  const settings = new Map(r.stdout.split("\n").map((l) => l.trim().split(/\s+/, 2) as [string, string]));
  assert.is(settings.get("EnableFileAccessNotify"), "true");
  assert.is(settings.get("StabilityCheck"), "procfs");
  assert.is(settings.get("ZFSBinaryPath"), "/usr/sbin/zfs");
  assert.is(settings.get("Storage"), "b2");
  assert.not.match(r.stdout, "REPLACE-WITH-B2-APPLICATION-KEY");
});

test("a plugin named in a config is imported and its options checked: a bad option fails with exit 2 naming it", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-example-configs-"));
  try {
    const file = join(dir, "rtb.config.json");
    await writeFile(
      file,
      JSON.stringify({
        parameters: { storage: "local", localStoragePath: join(dir, "store") },
        plugins: [
          { module: join(repo, "examples/nobackup-filter/dist/index.js"), export: "NoBackupMarkerPlugin" },
          {
            module: join(repo, "examples/webhook-notify/dist/index.js"),
            export: "WebhookNotifyPlugin",
            options: { url: "https://h.invalid/", failureThreshold: 0 },
          },
        ],
      }),
    );
    const r = await rtb(["config", "check", file]);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, "plugins[1].options");
    assert.match(r.stderr, "WebhookNotifyPlugin.options.failureThreshold: expected a whole number of at least 1, got 0");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the plugin file checks its options: a misspelt option fails rtb config check, naming it", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-example-configs-"));
  try {
    const file = join(dir, "rtb.config.json");
    const plugin = { module: join(configs, "plugins/MaxFileSizePlugin.mjs"), export: "MaxFileSizePlugin", options: { maxByte: 4096 } };
    await writeFile(file, JSON.stringify({ parameters: { storage: "local", localStoragePath: join(dir, "store") }, plugins: [plugin] }));
    const r = await rtb(["config", "check", file]);
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, "plugins[0].options");
    assert.match(r.stderr, "MaxFileSizePlugin.options.maxByte: unknown option (did you mean maxBytes?); known: maxBytes");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("rtb backup with a config that loads custom plugins honours them; rtb restore brings the rest back", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-example-configs-"));
  try {
    const src = join(dir, "src");
    await mkdir(join(src, "work", "build"), { recursive: true });
    await writeFile(join(src, "work", "notes.txt"), "keep me\n");
    await writeFile(join(src, "work", "build", ".nobackup"), "");
    await writeFile(join(src, "work", "build", "huge.o"), "object code");
    await writeFile(join(src, "work", "video.mkv"), Buffer.alloc(5000, 1));
    const file = join(dir, "rtb.config.json");
    await writeFile(
      file,
      JSON.stringify({
        parameters: {
          storage: "local",
          localStoragePath: join(dir, "store"),
          remoteFileStateCachePath: join(dir, "state"),
          stagingDirectory: join(dir, "staging"),
          backupRoots: [src],
          batchUploadConsolidationDelay: 50,
          snapshotSharingWindow: 20,
          monitorFileSystemTypes: ["ext4", "xfs", "tmpfs", "overlay"],
          // The default filters exclude /tmp, where this test runs.
          pathFilters: { rules: [], replaceDefaults: true },
        },
        plugins: [
          { module: join(repo, "examples/nobackup-filter/dist/index.js"), export: "NoBackupMarkerPlugin" },
          { module: join(configs, "plugins/MaxFileSizePlugin.mjs"), export: "MaxFileSizePlugin", options: { maxBytes: 4096 } },
        ],
      }),
    );
    const backup = await rtb(["backup", "-c", file, "--no-progress", "--quiet"]);
    assert.is(backup.code, 0, backup.stderr);
    const out = join(dir, "out");
    const restore = await rtb(["restore", "/", "-r", "--to", out, "-c", file, "--quiet"]);
    assert.is(restore.code, 0, restore.stderr);
    const restored = join(out, src.slice(1));
    assert.is(await readFile(join(restored, "work", "notes.txt"), "utf8"), "keep me\n");
    assert.equal(await readdir(join(restored, "work")), ["notes.txt"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
