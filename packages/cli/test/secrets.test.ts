import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { B2Emulator, type B2ApiName } from "@rtbackup/plugin-b2/emulator";
import { rtb } from "./helpers/daemon.js";

const PACKAGES = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const B2_PLUGIN = join(PACKAGES, "plugin-b2", "dist", "index.js");
const KEY_ID = "0051a2b3c4d5e6f0000000007";
const APP_KEY = "K005Zx9+secret/ApplicationKeyValue01";

/** Every way the credentials could show up: raw, HTTP Basic, and the emulator's account and upload tokens. */
function leaks(text: string): string[] {
  const found: string[] = [];
  if (text.includes(KEY_ID)) found.push("key id");
  if (text.includes(APP_KEY) || text.includes(encodeURIComponent(APP_KEY))) found.push("application key");
  const basic = Buffer.from(`${KEY_ID}:${APP_KEY}`).toString("base64");
  if (text.includes(basic.slice(0, 12)) || text.includes(basic.slice(-16))) found.push("HTTP Basic credentials");
  const token = /emu_(acct|upl)_[A-Za-z0-9_-]{6,}/.exec(text);
  if (token) found.push(`token ${token[0]}`);
  return found;
}

async function backupAgainstEchoingServer(faultedApis: B2ApiName[] | undefined) {
  const dir = await mkdtemp(join(tmpdir(), "rtb-secrets-"));
  const emulator = new B2Emulator({ keyId: KEY_ID, applicationKey: APP_KEY });
  try {
    await emulator.start();
    const src = join(dir, "src");
    await mkdir(src);
    await writeFile(join(src, "a.txt"), "alpha");
    await writeFile(join(src, "b.txt"), "bravo");
    const errorLog = join(dir, "error.log");
    const config = join(dir, "rtb.config.json");
    await writeFile(
      config,
      JSON.stringify({
        parameters: {
          storage: "b2",
          remoteStorageKeyID: KEY_ID,
          remoteStorageApplicationKey: APP_KEY,
          remoteStorageBucketID: emulator.bucketId,
          remoteFileStateCachePath: join(dir, "state"),
          stagingDirectory: join(dir, "staging"),
          errorLogFilePath: errorLog,
          ipcPath: join(dir, "ipc"),
          backupRoots: [src],
          snapshotSharingWindow: "PT0.05S",
          batchUploadConsolidationDelay: "PT0.05S",
        },
        plugins: [
          {
            module: B2_PLUGIN,
            export: "B2StoragePlugin",
            options: { authorizeUrl: emulator.authorizeUrl, maxAttempts: 2, backoffBaseMs: 5, backoffMaxMs: 20 },
          },
        ],
      }),
    );
    emulator.setFaults({ rate: 1, kinds: ["500-echo"], ...(faultedApis ? { apis: faultedApis } : {}) });
    const result = await rtb(["backup", "--config", config, "--verbose", "--no-progress"]);
    const echoed = emulator.log.filter((e) => e.fault === "500-echo").map((e) => e.api);
    const errorLogText = await readFile(errorLog, "utf8").catch(() => "");
    return { ...result, echoed, errorLogText };
  } finally {
    await emulator.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

test("rtb backup prints no credential when the server echoes the Authorization header of authorize (HTTP Basic)", async () => {
  const r = await backupAgainstEchoingServer(["b2_authorize_account"]);
  const all = `${r.stdout}\n${r.stderr}\n${r.errorLogText}`;
  assert.ok(r.echoed.length > 0, "the emulator echoed nothing");
  assert.is.not(r.code, 0, all);
  assert.ok(all.includes("[REDACTED]"), `the echoed header never reached the output: ${all}`);
  assert.equal(leaks(all), [], all);
});

test("rtb backup prints no account or upload token when every later call echoes its Authorization header", async () => {
  const r = await backupAgainstEchoingServer(["b2_list_unfinished_large_files", "b2_upload_file"]);
  const all = `${r.stdout}\n${r.stderr}\n${r.errorLogText}`;
  assert.ok(r.echoed.includes("b2_upload_file"), `no upload echoed its token: ${r.echoed.join(", ")}`);
  assert.is.not(r.code, 0, all);
  assert.ok(all.includes("[REDACTED]"), `the echoed header never reached the output: ${all}`);
  assert.equal(leaks(all), [], all);
});

test("the command's text on stdout and stderr is redacted, bytes pass unchanged, an uncaught error too", () => {
  const secret = "cli-output-secret-0123456789";
  const script = `
    import { installOutputRedaction } from ${JSON.stringify(join(PACKAGES, "cli", "dist", "index.js"))};
    import { processSecrets } from ${JSON.stringify(join(PACKAGES, "core", "dist", "index.js"))};
    installOutputRedaction();
    processSecrets.add(${JSON.stringify(secret)});
    process.stdout.write("text ${secret} end\\n");
    process.stdout.write(Buffer.from("bytes ${secret}\\n"));
    process.stderr.write(JSON.stringify({ error: "${encodeURIComponent(secret)}" }) + "\\n");
    setTimeout(() => { throw new Error("boom ${secret}"); }, 1);
  `;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 30_000 });
  assert.is(r.stdout, `text [REDACTED] end\nbytes ${secret}\n`);
  assert.match(r.stderr, /\{"error":"\[REDACTED\]"\}\n/);
  assert.match(r.stderr, /rtb: uncaught error: Error: boom \[REDACTED\]/);
  assert.not.ok(r.stderr.includes(secret), r.stderr);
  assert.is(r.status, 1);
});

test.run();
