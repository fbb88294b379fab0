import { inspect } from "node:util";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Engine, StorageError, type LogSink } from "@rtbackup/core";
import { B2StoragePlugin, type B2Storage } from "@rtbackup/plugin-b2";
import { B2Emulator } from "@rtbackup/plugin-b2/emulator";
import { bytes, getAll, listKeys, mapLimit } from "./helpers/treeData.js";

const test = suite("credentials never reach errors, logs or stats");

/** Every spelling of a secret that could leak: as is, and inside an HTTP Basic header. */
function forms(keyId: string, applicationKey: string): string[] {
  return [applicationKey, Buffer.from(`${keyId}:${applicationKey}`).toString("base64")];
}

function assertClean(text: string, secrets: string[], where: string): void {
  for (const secret of secrets) assert.not.ok(text.includes(secret), `${where} contains a secret`);
  assert.not.match(text, /emu_(acct|upl)_/, `${where} contains an authorization token`);
}

function engineFor(emulator: B2Emulator, applicationKey: string, lines: string[]): Engine {
  const sink: LogSink = { write: (level, name, message) => lines.push(`${level} [${name}] ${message}`) };
  return new Engine({
    parameters: {
      storage: "b2",
      remoteStorageKeyID: emulator.credentials.keyId,
      remoteStorageApplicationKey: applicationKey,
      remoteStorageBucketID: emulator.bucketId,
      b2LargeFileThreshold: 120_000,
      b2LargeFileChunkSize: 64 * 1024,
    },
    log: { verbosity: "Verbose", sink },
    plugins: [new B2StoragePlugin({ authorizeUrl: emulator.authorizeUrl, backoffBaseMs: 5, backoffMaxMs: 50, requestTimeoutMs: 500 })],
  });
}

test("a failing authorize: the error names what to fix and holds no key", async () => {
  const emulator = new B2Emulator();
  await emulator.start();
  const wrongKey = "K005wrongSecretValue0123456789abcdef";
  const lines: string[] = [];
  const backend = engineFor(emulator, wrongKey, lines).resolveStorage() as B2Storage;
  try {
    const err = await backend.put("x", Buffer.from("x"), 1).then(
      () => assert.unreachable("a wrong key must fail"),
      (e: unknown) => e,
    );
    assert.instance(err, StorageError);
    assert.is((err as StorageError).transient, false);
    assert.match((err as Error).message, /RemoteStorageApplicationKey/);
    const secrets = forms(emulator.credentials.keyId, wrongKey);
    assertClean(inspect(err, { depth: Infinity, showHidden: true }), secrets, "the error");
    assertClean(JSON.stringify(err), secrets, "the error as JSON");
    assertClean(JSON.stringify(backend.stats), secrets, "the stats");
    assertClean(inspect(backend, { depth: Infinity, showHidden: true }), secrets, "the backend object");
    assertClean(lines.join("\n"), secrets, "the log");
    assertClean(backend.description, secrets, "the description");
  } finally {
    await backend.close();
    await emulator.stop();
  }
});

test("a run with retries, re-authorizations and a fatal error logs and reports no secret or token", async () => {
  const emulator = new B2Emulator({
    absoluteMinimumPartSize: 50_000,
    faults: { rate: 0.2, kinds: ["401", "503", "reset"] },
    seed: 5,
  });
  await emulator.start();
  const lines: string[] = [];
  const backend = engineFor(emulator, emulator.credentials.applicationKey, lines).resolveStorage() as B2Storage;
  const errors: unknown[] = [];
  try {
    // Besides the random faults, these make sure a re-authorization, an upload-token renewal and a 503 happen.
    emulator.failNext("b2_get_upload_url", "401");
    emulator.failNext("b2_upload_file", "401");
    emulator.failNext("b2_download_file_by_name", "503");
    const files = Array.from({ length: 12 }, (_, i) => ({ key: `c/${i}`, data: bytes(i === 11 ? 200_000 : 3000, i + 1) }));
    await mapLimit(files, 3, (f) => backend.put(f.key, f.data, f.data.length));
    assert.is((await listKeys(backend, "c/")).length, 12);
    for (const f of files) assert.ok((await getAll(backend, f.key)).equals(f.data));
    emulator.setFaults(undefined);
    emulator.failNext("b2_list_file_names", "503", 20);
    await listKeys(backend, "c/").catch((e: unknown) => errors.push(e));
    assert.is(errors.length, 1, "the listing gave up");
    assert.ok(
      lines.some((l) => l.startsWith("debug")),
      "retries were logged",
    );
    const secrets = forms(emulator.credentials.keyId, emulator.credentials.applicationKey);
    assertClean(lines.join("\n"), secrets, "the log");
    assertClean(JSON.stringify(backend.stats), secrets, "the stats");
    for (const e of errors) assertClean(inspect(e, { depth: Infinity, showHidden: true }), secrets, "an error");
    assert.ok(backend.stats.retries.auth > 0 && backend.stats.retries.server > 0, "the run did go through retries");
  } finally {
    await backend.close();
    await emulator.stop();
  }
});

test("a server that echoes the Authorization header and body in a 500: errors and logs show [REDACTED] only", async () => {
  const emulator = new B2Emulator();
  await emulator.start();
  const lines: string[] = [];
  const backend = engineFor(emulator, emulator.credentials.applicationKey, lines).resolveStorage() as B2Storage;
  const errors: unknown[] = [];
  try {
    for (const api of ["b2_authorize_account", "b2_get_upload_url", "b2_upload_file", "b2_list_file_names"] as const) {
      emulator.setFaults({ rate: 1, kinds: ["500-echo"], apis: [api] });
      if (api === "b2_authorize_account") await backend.put("first", Buffer.from("x"), 1).catch((e: unknown) => errors.push(e));
      else if (api === "b2_list_file_names") await listKeys(backend, "").catch((e: unknown) => errors.push(e));
      else await backend.put(`k-${api}`, Buffer.from("y"), 1).catch((e: unknown) => errors.push(e));
    }
    assert.is(errors.length, 4, "every echoing call failed");
    const echoed = new Set(emulator.log.filter((e) => e.fault === "500-echo").map((e) => e.api));
    assert.equal([...echoed].sort(), ["b2_authorize_account", "b2_get_upload_url", "b2_list_file_names", "b2_upload_file"]);
    const secrets = forms(emulator.credentials.keyId, emulator.credentials.applicationKey);
    for (const e of errors) {
      const text = inspect(e, { depth: Infinity, showHidden: true });
      assert.match(text, /Authorization: (Basic )?\[REDACTED\]/);
      assertClean(text, secrets, "an error");
    }
    assertClean(lines.join("\n"), secrets, "the log");
  } finally {
    await backend.close();
    await emulator.stop();
  }
});

test.run();
