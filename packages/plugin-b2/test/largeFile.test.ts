import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { Readable } from "node:stream";
import { StorageError } from "@rtbackup/core";
import { sha1 } from "./helpers/rawB2.js";
import { startEmulatorBackend, TEST_SIZES, waitFor } from "./helpers/emulatorBackend.js";
import { bytes, getAll, listKeys, streamOf } from "./helpers/treeData.js";

const test = suite("B2Storage large files");
const CHUNK = TEST_SIZES.largeFileChunkSize;

test("a large file is uploaded in parallel parts, each on its own URL, with large_file_sha1", async () => {
  const env = await startEmulatorBackend({ latencyMs: { b2_upload_part: 150 } }, { partConcurrency: 4 });
  try {
    const data = bytes(10 * CHUNK + 123, 7);
    await env.backend.put("big/one", streamOf(data), data.length);
    const parts = env.emulator.log.filter((e) => e.api === "b2_upload_part" && e.fileName === "big/one");
    assert.equal(
      parts.map((p) => p.partNumber).sort((a, b) => a! - b!),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    );
    const concurrency = env.emulator.maxConcurrency("b2_upload_part", (e) => e.fileName === "big/one");
    assert.ok(concurrency >= 3, `parts overlapped: ${concurrency} at once`);
    assert.ok(concurrency <= 4, `never more than partConcurrency: ${concurrency}`);
    assert.ok(Math.max(...parts.map((p) => p.concurrentParts ?? 0)) >= 3, "the emulator saw several parts of the file arriving at once");
    assert.equal(env.emulator.violations, [], "one upload URL per concurrent part");
    const [file] = env.emulator.files();
    assert.is(file!.fileInfo["large_file_sha1"], sha1(data));
    assert.is(file!.contentSha1, "none");
    assert.ok((await getAll(env.backend, "big/one")).equals(data));
  } finally {
    await env.cleanup();
  }
});

test("part size: raised to the account minimum; under two parts is a single upload", async () => {
  const env = await startEmulatorBackend({}, { largeFileThreshold: 1000, largeFileChunkSize: 10_000 });
  try {
    await env.backend.put("single", bytes(40_000, 1), 40_000);
    assert.is(env.emulator.counts().byApi.b2_start_large_file, undefined, "40 KB is under two parts of the 50 KB minimum");
    const data = bytes(120_001, 2);
    await env.backend.put("three", data, data.length);
    const parts = env.emulator.log.filter((e) => e.api === "b2_upload_part").map((e) => [e.partNumber, e.bytes]);
    parts.sort((a, b) => a[0]! - b[0]!);
    assert.equal(parts, [
      [1, 50_000],
      [2, 50_000],
      [3, 20_001],
    ]);
    assert.ok((await getAll(env.backend, "three")).equals(data));
  } finally {
    await env.cleanup();
  }
});

test("a crash mid-upload (process killed) leaves nothing that looks like a complete object; the next start cancels it", async () => {
  const env = await startEmulatorBackend({ latencyMs: { b2_upload_part: 150 } });
  const key = "crash/object";
  const child = spawn(process.execPath, [fileURLToPath(new URL("./helpers/crashingPut.mjs", import.meta.url))], {
    env: {
      ...process.env,
      CRASH_SIZE: String(40 * CHUNK),
      CRASH_KEY: key,
      CRASH_KEY_ID: env.emulator.credentials.keyId,
      CRASH_APPLICATION_KEY: env.emulator.credentials.applicationKey,
      CRASH_BUCKET_ID: env.emulator.bucketId,
      CRASH_AUTHORIZE_URL: env.emulator.authorizeUrl,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    const storedParts = () => env.emulator.log.filter((e) => e.api === "b2_upload_part" && e.fileName === key && e.status === 200).length;
    await waitFor(() => storedParts() >= 3 || child.exitCode !== null, 20_000, "three parts stored");
    assert.is(child.exitCode, null, `the child was still uploading (${output})`);
    child.kill("SIGKILL");
    await exited;
    assert.not.match(output, /finished/);
    const [unfinished] = env.emulator.unfinishedLargeFiles();
    assert.ok(unfinished && unfinished.fileName === key && unfinished.parts >= 3, "the upload was cut off mid-way");
    assert.is(unfinished!.fileInfo["rtb_owner"], "crash-host");
    assert.is(await env.backend.head(key), undefined, "head does not see it");
    assert.equal(await listKeys(env.backend, "crash/"), [], "listing does not show it");
    await env.backend.get(key).then(
      () => assert.unreachable("get must not find it"),
      (err) => assert.is((err as StorageError).code, "STORAGE_NOT_FOUND"),
    );
    await env.backend.open();
    assert.is(env.emulator.unfinishedLargeFiles().length, 1, "another owner's unfinished file is left alone");
    const restarted = env.another({ owner: "crash-host" });
    await restarted.open();
    assert.equal(env.emulator.unfinishedLargeFiles(), [], "the crashed owner's next start cancels it");
    assert.is(restarted.stats.staleLargeFilesCancelled, 1);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
    await env.cleanup();
  }
});

test("dropping the backend mid-upload (close) stores nothing; the same owner's next start cancels the leftover", async () => {
  const env = await startEmulatorBackend({ latencyMs: { b2_upload_part: 100 } }, { partConcurrency: 2 });
  try {
    const data = bytes(24 * CHUNK, 3);
    const put = env.backend.put("dropped", streamOf(data), data.length);
    const outcome = put.then(
      () => "stored",
      (err) => (err as Error).message,
    );
    await waitFor(() => env.emulator.log.some((e) => e.api === "b2_upload_part" && e.status === 200), 10_000, "a part stored");
    await env.backend.close();
    assert.match(await outcome, /closed/);
    assert.is(env.emulator.unfinishedLargeFiles().length, 1);
    const next = env.another();
    assert.equal(await listKeys(next, ""), []);
    assert.equal(env.emulator.unfinishedLargeFiles(), [], "cancelled at the next start");
  } finally {
    await env.cleanup();
  }
});

test("a part that keeps failing cancels the large file", async () => {
  const env = await startEmulatorBackend({}, { maxAttempts: 2, partConcurrency: 1 });
  try {
    env.emulator.failNext("b2_upload_part", "503", 2);
    const data = bytes(3 * CHUNK, 4);
    await env.backend.put("fails", data, data.length).then(
      () => assert.unreachable("the put must fail"),
      (err) => {
        assert.instance(err, StorageError);
        assert.is((err as StorageError).transient, true);
      },
    );
    assert.equal(env.emulator.unfinishedLargeFiles(), []);
    assert.is(env.backend.stats.largeFilesCancelled, 1);
    assert.is(await env.backend.head("fails"), undefined);
  } finally {
    await env.cleanup();
  }
});

test("a body that changes between the hashing pass and the upload pass is refused and cancelled", async () => {
  const env = await startEmulatorBackend();
  try {
    let opened = 0;
    const size = 3 * CHUNK;
    const factory = () => Readable.from([bytes(size, ++opened)]);
    await env.backend.put("moving", factory, size).then(
      () => assert.unreachable("the put must fail"),
      (err) => assert.match((err as Error).message, /changed/),
    );
    assert.is(opened, 2);
    assert.equal(env.emulator.unfinishedLargeFiles(), []);
    assert.equal(env.emulator.files(), []);
    assert.equal(env.emulator.violations, []);
  } finally {
    await env.cleanup();
  }
});

test.run();
