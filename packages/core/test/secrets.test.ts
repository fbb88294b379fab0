import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BackupError, Engine, REDACTED, SecretRegistry, StorageError, createLogRoot, messageOf, processSecrets, type LogSink } from "@rtbackup/core";

const KEY_ID = "0051234abcdef0000000001";
const APP_KEY = "K005s3cr3t/Applic+tionKey~x";

const registry = new SecretRegistry();
registry.add(KEY_ID, APP_KEY);

const spelled: [string, string][] = [
  ["raw", `failed: ${APP_KEY} echoed`],
  ["URL-encoded", `GET /x?key=${encodeURIComponent(APP_KEY)}&y=1`],
  ["JSON-escaped", JSON.stringify({ message: `the key "${APP_KEY}\\" was wrong` })],
  ["JSON-escaped key with a quote", JSON.stringify({ m: APP_KEY })],
  ["hex", `dump ${Buffer.from(APP_KEY).toString("hex")} end`],
  ["HEX", `dump ${Buffer.from(APP_KEY).toString("hex").toUpperCase()} end`],
  ["base64 alone", `token ${Buffer.from(APP_KEY).toString("base64")} end`],
  ["Basic base64(id:key)", `Authorization: Basic ${Buffer.from(`${KEY_ID}:${APP_KEY}`).toString("base64")}`],
  ["base64url at offset 1", `x ${Buffer.from(`a${APP_KEY}b`).toString("base64url")} y`],
  ["base64 at offset 2", `x ${Buffer.from(`ab${APP_KEY}`).toString("base64")} y`],
];

for (const [what, text] of spelled) {
  test(`redacts the ${what} spelling`, () => {
    const out = registry.redact(text);
    assert.ok(out.includes(REDACTED), `${what}: nothing redacted in ${out}`);
    for (const leak of [APP_KEY, encodeURIComponent(APP_KEY), Buffer.from(APP_KEY).toString("hex")]) {
      assert.not.ok(out.toLowerCase().includes(leak.toLowerCase()), `${what}: leaked in ${out}`);
    }
    // No 6-byte run of the key survives in any base64 alignment.
    for (const skip of [0, 1, 2]) {
      const core = Buffer.from(APP_KEY)
        .subarray(skip, skip + 6)
        .toString("base64");
      assert.not.ok(out.includes(core), `${what}: base64 of the key at offset ${skip} survived in ${out}`);
    }
  });
}

test("an HTTP Basic value becomes one marker", () => {
  const header = `Authorization: Basic ${Buffer.from(`${KEY_ID}:${APP_KEY}`).toString("base64")}; next`;
  assert.is(registry.redact(header), `Authorization: Basic ${REDACTED}; next`);
});

test("1,024 tokens known: a log line and a 1 MiB text are still redacted cheaply, in one pass", () => {
  const r = new SecretRegistry();
  r.add(APP_KEY);
  for (let i = 0; i < 1100; i++) r.addEphemeral(`4_z${i.toString().padStart(6, "0")}_token_${"x".repeat(30)}`);
  assert.is(r.size, 1 + 1024);
  const line = `uploaded /home/alice/a-file.txt (1234 bytes); token 4_z001099_token_${"x".repeat(30)} end`;
  const started = performance.now();
  for (let i = 0; i < 1000; i++) assert.is(r.redact(line), `uploaded /home/alice/a-file.txt (1234 bytes); token ${REDACTED} end`);
  r.redact("y".repeat(1024 * 1024));
  const ms = performance.now() - started;
  assert.ok(ms < 3000, `1,000 lines and 1 MiB took ${ms.toFixed(0)} ms`);
});

test("ordinary text, short values and non-strings are left alone", () => {
  const r = new SecretRegistry();
  r.add("abc", "", undefined, 12345, null);
  assert.is(r.size, 0);
  r.add(APP_KEY);
  const text = "uploaded /home/alice/notes.txt (1234 bytes) in 20 ms";
  assert.is(r.redact(text), text);
});

test("ephemeral tokens are capped, the least recently seen forgotten first", () => {
  const r = new SecretRegistry({ maxEphemeral: 3 });
  for (const t of ["token-one-1", "token-two-2", "token-three"]) r.addEphemeral(t);
  assert.is(r.redact("token-one-1"), REDACTED);
  r.addEphemeral("token-one-1", "token-four4");
  assert.is(r.size, 3);
  assert.is(r.redact("token-two-2"), "token-two-2");
  assert.is(r.redact("a token-one-1 token-four4 b"), `a ${REDACTED} ${REDACTED} b`);
});

test("the logger, BackupError messages and messageOf redact registered secrets", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rtb-secrets-"));
  const secret = `log-secret-${Date.now()}`;
  try {
    processSecrets.add(secret);
    const lines: string[] = [];
    const sink: LogSink = { write: (level, name, message) => lines.push(`${level} ${name} ${message}`) };
    const errorLogFilePath = join(dir, "errors.log");
    const log = createLogRoot({ sink, errorLogFilePath })("t");
    log.info(`info ${secret}`);
    log.warn(`warn ${encodeURIComponent(secret)}`);
    log.error("call failed", new Error(`server said ${secret}`));
    const all = lines.join("\n") + (await readFile(errorLogFilePath, "utf8"));
    assert.not.ok(all.includes(secret), all);
    assert.is(all.split(REDACTED).length - 1, 4);
    const err = new StorageError("STORAGE_FAILED", `put: HTTP 500 ${secret}`);
    assert.not.ok(err.message.includes(secret));
    assert.instance(err, BackupError);
    assert.not.ok(messageOf(new Error(`plain ${secret}`)).includes(secret));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the engine registers the configured credentials", () => {
  const secret = `cfg-app-key-${Date.now()}`;
  new Engine({ parameters: { remoteStorageApplicationKey: secret } });
  assert.is(processSecrets.redact(`x ${secret} y`), `x ${REDACTED} y`);
});

test.run();
