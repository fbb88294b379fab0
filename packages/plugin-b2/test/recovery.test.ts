import { suite } from "uvu";
import * as assert from "uvu/assert";
import { StorageError } from "@rtbackup/core";
import { sha256, startEmulatorBackend, TEST_SIZES } from "./helpers/emulatorBackend.js";
import { bytes, getAll, listKeys, mapLimit, streamOf } from "./helpers/treeData.js";

const test = suite("B2Storage recovery rules");

test("an expired token mid-run is recovered with a single re-authorization", async () => {
  const env = await startEmulatorBackend();
  try {
    const files = Array.from({ length: 24 }, (_, i) => ({ key: `t/${i}`, data: bytes(2000 + i, i + 1) }));
    let done = 0;
    await mapLimit(files, 6, async (f, i) => {
      await env.backend.put(f.key, i % 2 ? f.data : streamOf(f.data), f.data.length);
      // Every account and upload token dies while other uploads are still going.
      if (++done === 8) env.emulator.expireAllTokens();
    });
    for (const f of files) assert.is(sha256(await getAll(env.backend, f.key)), sha256(f.data));
    assert.ok(
      env.emulator.log.some((e) => e.code === "expired_auth_token"),
      "calls were refused with expired_auth_token",
    );
    assert.is(env.emulator.counts().byApi.b2_authorize_account, 2, "one re-authorization however many calls saw the 401");
    assert.is(env.backend.stats.reauthorizations, 1);
  } finally {
    await env.cleanup();
  }
});

test("tokens that keep expiring during a run are renewed each time", async () => {
  const env = await startEmulatorBackend({ tokenLifetimeMs: 150, latencyMs: { b2_upload_file: 40 } });
  try {
    const deadline = Date.now() + 20_000;
    let puts = 0;
    while (env.backend.stats.reauthorizations < 2) {
      assert.ok(Date.now() < deadline, `only ${env.backend.stats.reauthorizations} re-authorizations after ${puts} puts`);
      await env.backend.put(`e/${puts}`, Buffer.from(`v${puts}`), String(puts).length + 1);
      puts += 1;
    }
    assert.is((await listKeys(env.backend, "e/")).length, puts, "every put landed");
    assert.ok(
      env.emulator.log.some((e) => e.code === "expired_auth_token"),
      "tokens did expire on their own",
    );
  } finally {
    await env.cleanup();
  }
});

test("a HEAD refused with a bodiless 401: re-authorize once; refused again means a missing capability", async () => {
  const env = await startEmulatorBackend();
  try {
    await env.backend.put("h", Buffer.from("h"), 1);
    env.emulator.failNext("b2_download_file_by_name", "401");
    assert.equal(await env.backend.head("h"), { key: "h", size: 1 });
    assert.is(env.backend.stats.reauthorizations, 1);
    const writeOnly = env.emulator.addKey({ capabilities: ["listFiles", "writeFiles"] });
    const blind = env.another({ keyId: writeOnly.keyId, applicationKey: writeOnly.applicationKey });
    await blind.head("h").then(
      () => assert.unreachable("HEAD needs readFiles"),
      (err) => {
        assert.is((err as StorageError).transient, false);
        assert.match((err as Error).message, /capability/);
      },
    );
    assert.is(blind.stats.calls["b2_download_file_by_name"], 2, "one retry after a fresh authorization, then fatal");
  } finally {
    await env.cleanup();
  }
});

test("429 Retry-After is honoured before the next call", async () => {
  const env = await startEmulatorBackend();
  try {
    await env.backend.put("a", Buffer.from("a"), 1);
    env.emulator.failNext("b2_list_file_names", "429", 1, { retryAfterSeconds: 1 });
    assert.equal(await listKeys(env.backend, ""), ["a"]);
    const lists = env.emulator.log.filter((e) => e.api === "b2_list_file_names");
    assert.equal(
      lists.map((e) => e.status),
      [429, 200],
    );
    const waited = lists[1]!.startedAt - lists[0]!.endedAt;
    assert.ok(waited >= 990, `waited ${waited} ms for Retry-After: 1`);
    env.emulator.failNext("b2_upload_file", "429", 1, { retryAfterSeconds: 1 });
    await env.backend.put("b", Buffer.from("b"), 1);
    const uploads = env.emulator.log.filter((e) => e.api === "b2_upload_file" && e.fileName === "b");
    assert.equal(
      uploads.map((e) => e.status),
      [429, 200],
    );
    assert.ok(uploads[1]!.startedAt - uploads[0]!.endedAt >= 990, "upload retried after Retry-After");
  } finally {
    await env.cleanup();
  }
});

test("503 and 401 on an upload URL: a new upload URL for every retry", async () => {
  const env = await startEmulatorBackend();
  try {
    await env.backend.put("warm", Buffer.from("w"), 1);
    const before = env.emulator.counts().byApi.b2_get_upload_url ?? 0;
    env.emulator.failNext("b2_upload_file", "503", 2);
    env.emulator.failNext("b2_upload_file", "401", 1);
    await env.backend.put("x", streamOf(bytes(5000, 5)), 5000);
    assert.is(env.emulator.counts().byApi.b2_get_upload_url! - before, 3, "one new URL per failed attempt");
    assert.is(env.backend.stats.reauthorizations, 0, "an expired upload token needs no re-authorization");
    assert.equal(env.emulator.violations, []);
    assert.ok((await getAll(env.backend, "x")).equals(bytes(5000, 5)));
  } finally {
    await env.cleanup();
  }
});

test("a download broken mid-body resumes with a Range request and is verified", async () => {
  const env = await startEmulatorBackend();
  try {
    const small = bytes(50_000, 1);
    const large = bytes(4 * TEST_SIZES.largeFileChunkSize, 2);
    await env.backend.put("small", small, small.length);
    await env.backend.put("large", large, large.length);
    env.emulator.failNext("b2_download_file_by_name", "reset");
    assert.ok((await getAll(env.backend, "small")).equals(small));
    env.emulator.failNext("b2_download_file_by_name", "reset");
    assert.ok((await getAll(env.backend, "large")).equals(large));
    assert.is(env.backend.stats.downloadResumes, 2);
    const downloads = env.emulator.log.filter((e) => e.api === "b2_download_file_by_name");
    assert.equal(
      downloads.map((e) => e.status),
      [200, 206, 200, 206],
    );
  } finally {
    await env.cleanup();
  }
});

test("a slow answer past the timeout is retried", async () => {
  const env = await startEmulatorBackend({}, { requestTimeoutMs: 300 });
  try {
    await env.backend.put("a", Buffer.from("a"), 1);
    env.emulator.failNext("b2_list_file_names", "slow", 1, { slowMs: 1500 });
    env.emulator.failNext("b2_download_file_by_name", "slow", 1, { slowMs: 1500 });
    assert.equal(await listKeys(env.backend, ""), ["a"]);
    assert.is((await getAll(env.backend, "a")).toString(), "a");
    assert.is(env.backend.stats.retries.timeout, 2);
  } finally {
    await env.cleanup();
  }
});

test("a slow reader is not mistaken for a stalled connection", async () => {
  const env = await startEmulatorBackend({}, { requestTimeoutMs: 200 });
  try {
    const data = bytes(3 * TEST_SIZES.largeFileChunkSize, 8);
    await env.backend.put("slowread", data, data.length);
    const stream = await env.backend.get("slowread");
    const parts: Buffer[] = [];
    let paused = false;
    for await (const chunk of stream) {
      parts.push(chunk as Buffer);
      if (!paused) {
        paused = true;
        // The reader takes longer than the idle timeout over one chunk; that is the behaviour under test.
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    assert.ok(Buffer.concat(parts).equals(data));
    assert.is(env.backend.stats.downloadResumes, 0);
  } finally {
    await env.cleanup();
  }
});

test("a corrupted object is an INTEGRITY error naming it, for single and large files", async () => {
  const env = await startEmulatorBackend();
  try {
    const large = bytes(3 * TEST_SIZES.largeFileChunkSize, 3);
    await env.backend.put("s", bytes(1000, 4), 1000);
    await env.backend.put("l", large, large.length);
    for (const file of env.emulator.files()) file.data[7] ^= 0xff;
    for (const key of ["s", "l"]) {
      try {
        await getAll(env.backend, key);
        assert.unreachable(`${key}: corruption must be detected`);
      } catch (err) {
        assert.instance(err, StorageError);
        assert.is((err as StorageError).code, "INTEGRITY");
        assert.match((err as Error).message, `"${key}"`);
      }
    }
  } finally {
    await env.cleanup();
  }
});

test("fatal errors are not retried: a missing capability fails at once", async () => {
  const env = await startEmulatorBackend();
  try {
    const limited = env.emulator.addKey({ capabilities: ["readFiles", "writeFiles"] });
    const backend = env.another({ keyId: limited.keyId, applicationKey: limited.applicationKey });
    try {
      await listKeys(backend, "");
      assert.unreachable("listing needs listFiles");
    } catch (err) {
      assert.instance(err, StorageError);
      assert.is((err as StorageError).transient, false);
      assert.match((err as Error).message, /capability/);
    }
    assert.is(backend.stats.calls["b2_list_file_names"], 1);
  } finally {
    await env.cleanup();
  }
});

test("retries give up after maxAttempts with a transient error", async () => {
  const env = await startEmulatorBackend({}, { maxAttempts: 3 });
  try {
    env.emulator.failNext("b2_get_upload_url", "503", 3);
    try {
      await env.backend.put("x", Buffer.from("x"), 1);
      assert.unreachable("three 503s in a row must fail with maxAttempts 3");
    } catch (err) {
      assert.instance(err, StorageError);
      assert.is((err as StorageError).transient, true);
      assert.match((err as Error).message, /after 3 attempts/);
    }
  } finally {
    await env.cleanup();
  }
});

test("close() aborts waiting calls and later calls fail", async () => {
  const env = await startEmulatorBackend();
  try {
    await env.backend.put("a", Buffer.from("a"), 1);
    env.emulator.failNext("b2_list_file_names", "429", 1, { retryAfterSeconds: 30 });
    const pending = listKeys(env.backend, "");
    await new Promise<void>((resolve) => env.emulator.once("request", () => resolve()));
    await env.backend.close();
    const started = Date.now();
    await pending.then(
      () => assert.unreachable("a closed backend must not answer"),
      (err) => assert.match((err as Error).message, /closed/),
    );
    assert.ok(Date.now() - started < 5000, "the 30 s Retry-After wait was cut short");
    await env.backend.head("a").then(
      () => assert.unreachable("calls after close fail"),
      (err) => assert.match((err as Error).message, /closed/),
    );
  } finally {
    await env.cleanup();
  }
});

test.run();
