import { suite } from "uvu";
import * as assert from "uvu/assert";
import { B2Emulator } from "@rtbackup/plugin-b2/emulator";
import { RawB2, sha1 } from "./helpers/rawB2.js";
import { bytes, mapLimit } from "./helpers/treeData.js";

const test = suite<{ emulator: B2Emulator; raw: RawB2 }>("B2 emulator rules");

test.before.each(async (ctx) => {
  ctx.emulator = new B2Emulator({ absoluteMinimumPartSize: 1000 });
  await ctx.emulator.start();
  ctx.raw = new RawB2(ctx.emulator);
  await ctx.raw.authorize();
});
test.after.each(async (ctx) => {
  await ctx.emulator.stop();
});

test("authorize checks the key and never repeats it; v2 and v3 answers", async ({ emulator }) => {
  const raw = new RawB2(emulator);
  const bad = await raw.authorize("not-the-key-1234567");
  assert.is(bad.status, 401);
  assert.is(bad.json.code, "bad_auth_token");
  assert.not.ok(JSON.stringify(bad.json).includes("not-the-key-1234567"));
  const good = await raw.authorize();
  assert.is(good.status, 200);
  assert.is(good.json.apiUrl, emulator.url);
  assert.is(good.json.allowed.bucketId, emulator.bucketId);
  assert.is(good.json.allowed.bucketName, emulator.bucketName);
  assert.is(good.json.absoluteMinimumPartSize, 1000);
  const basic = Buffer.from(`${emulator.credentials.keyId}:${emulator.credentials.applicationKey}`).toString("base64");
  const v3 = await (await fetch(`${emulator.url}/b2api/v3/b2_authorize_account`, { headers: { Authorization: `Basic ${basic}` } })).json();
  assert.is((v3 as any).apiInfo.storageApi.apiUrl, emulator.url);
});

test("tokens: unknown is bad_auth_token, expired is expired_auth_token, upload tokens expire too", async ({ emulator, raw }) => {
  const target = await raw.uploadTarget();
  assert.is((await raw.call("b2_list_file_names", { bucketId: emulator.bucketId }, "nonsense")).json.code, "bad_auth_token");
  emulator.expireAllTokens();
  const expired = await raw.call("b2_list_file_names", { bucketId: emulator.bucketId });
  assert.is(expired.status, 401);
  assert.is(expired.json.code, "expired_auth_token");
  const upload = await raw.upload("x", Buffer.from("x"), { target });
  assert.is(upload.json.code, "expired_auth_token");
  await raw.authorize();
  assert.is((await raw.call("b2_list_file_names", { bucketId: emulator.bucketId })).status, 200);
});

test("uploads: the SHA-1 is checked, a rejecting URL is dead, hex_digits_at_end works", async ({ emulator, raw }) => {
  const target = await raw.uploadTarget();
  const wrong = await raw.upload("a", Buffer.from("hello"), { target, sha1: sha1(Buffer.from("other")) });
  assert.is(wrong.status, 400);
  assert.match(wrong.json.message, /Sha1 did not match/);
  assert.equal(emulator.files(), []);
  const reused = await raw.upload("a", Buffer.from("hello"), { target });
  assert.is(reused.status, 503, "a URL that rejected an upload is no longer valid");
  assert.is(emulator.violations.length, 1);
  const data = Buffer.from("streamed body");
  const fresh = await raw.uploadTarget();
  const res = await fetch(fresh.uploadUrl, {
    method: "POST",
    headers: { Authorization: fresh.authorizationToken, "X-Bz-File-Name": "b", "X-Bz-Content-Sha1": "hex_digits_at_end" },
    body: Buffer.concat([data, Buffer.from(sha1(data))]),
  });
  assert.is(res.status, 200);
  const file = (await res.json()) as any;
  assert.is(file.contentLength, data.length);
  assert.is(file.contentSha1, sha1(data));
  assert.ok(emulator.files()[0]!.data.equals(data));
});

test("uploads need Content-Length (no chunked encoding)", async ({ raw }) => {
  const target = await raw.uploadTarget();
  const data = Buffer.from("chunked");
  const res = await fetch(target.uploadUrl, {
    method: "POST",
    headers: { Authorization: target.authorizationToken, "X-Bz-File-Name": "c", "X-Bz-Content-Sha1": sha1(data) },
    body: new ReadableStream({
      start(c) {
        c.enqueue(data);
        c.close();
      },
    }),
    duplex: "half",
  } as RequestInit);
  assert.is(res.status, 400);
});

test("file name rules are enforced; + decodes to a space", async ({ emulator, raw }) => {
  const bad = ["/lead", "trail/", "dou//ble", "back\\slash", "ctl\u0001", "del\u007f", `${"s".repeat(251)}/x`, "n".repeat(1025)];
  for (const name of bad) {
    const answer = await raw.upload(name, Buffer.from("x"), { encodedName: encodeURIComponent(name) });
    assert.is(answer.status, 400, `${JSON.stringify(name)} is refused`);
  }
  assert.is((await raw.upload("ok", Buffer.from("x"), { encodedName: "a%2Bb+c" })).status, 200);
  assert.equal(
    emulator.files().map((f) => f.fileName),
    ["a+b c"],
  );
});

test("listing is in UTF-8 byte order, paginates, and bills 1 transaction per 1,000 results", async ({ emulator, raw }) => {
  // UTF-16 order puts the emoji (a surrogate pair) first; UTF-8 byte order puts U+FFFD first.
  await raw.upload("u/\u{1F600}", Buffer.from("1"));
  await raw.upload("u/\uFFFD", Buffer.from("2"));
  await raw.upload("u/a", Buffer.from("3"));
  const all = (await raw.call("b2_list_file_names", { bucketId: emulator.bucketId, prefix: "u/" })).json;
  assert.equal(
    all.files.map((f: any) => f.fileName),
    ["u/a", "u/\uFFFD", "u/\u{1F600}"],
  );
  const first = (await raw.call("b2_list_file_names", { bucketId: emulator.bucketId, prefix: "u/", maxFileCount: 2 })).json;
  assert.is(first.files.length, 2);
  assert.is(first.nextFileName, "u/\u{1F600}");
  const folders = (await raw.call("b2_list_file_names", { bucketId: emulator.bucketId, delimiter: "/" })).json;
  assert.equal(
    folders.files.map((f: any) => [f.fileName, f.action]),
    [["u/", "folder"]],
  );
  const names = Array.from({ length: 1001 }, (_, i) => `m/${String(i).padStart(4, "0")}`);
  await mapLimit(names, 16, (n) => raw.upload(n, Buffer.from(n)));
  const before = emulator.lastSeq;
  const big = (await raw.call("b2_list_file_names", { bucketId: emulator.bucketId, prefix: "m/", maxFileCount: 5000 })).json;
  assert.is(big.files.length, 1001);
  const counts = emulator.counts(before);
  assert.is(counts.calls.C, 1);
  assert.is(counts.billed.C, 2);
});

test("large files: parts, at least two, minimum part size, SHA-1 array; unfinished ones are not listed", async ({ emulator, raw }) => {
  const p1 = bytes(1500, 1);
  const p2 = bytes(500, 2);
  const small = bytes(600, 3);
  const fileId = await raw.startLarge("big/file", { large_file_sha1: sha1(Buffer.concat([p1, p2])) });
  assert.is((await raw.uploadPart(fileId, 1, p1)).status, 200);
  assert.equal((await raw.call("b2_list_file_names", { bucketId: emulator.bucketId })).json.files, [], "unfinished: not listed");
  assert.is((await raw.download("big/file")).status, 404, "unfinished: not downloadable");
  const unfinished = (await raw.call("b2_list_unfinished_large_files", { bucketId: emulator.bucketId })).json.files;
  assert.equal(
    unfinished.map((f: any) => f.fileId),
    [fileId],
  );
  assert.match((await raw.call("b2_finish_large_file", { fileId, partSha1Array: [sha1(p1)] })).json.message, /at least 2 parts/);
  assert.match((await raw.call("b2_finish_large_file", { fileId, partSha1Array: [sha1(p1), sha1(p2)] })).json.message, /Part number 2/);
  assert.is((await raw.uploadPart(fileId, 2, p2)).status, 200);
  assert.is((await raw.call("b2_finish_large_file", { fileId, partSha1Array: [sha1(p1), sha1(p1)] })).status, 400, "wrong SHA-1 array");
  const done = await raw.call("b2_finish_large_file", { fileId, partSha1Array: [sha1(p1), sha1(p2)] });
  assert.is(done.status, 200);
  assert.is(done.json.contentSha1, "none");
  const got = await raw.download("big/file");
  assert.ok(got.body.equals(Buffer.concat([p1, p2])));
  assert.is(got.headers.get("x-bz-content-sha1"), "none");
  assert.is(got.headers.get("x-bz-info-large_file_sha1"), sha1(Buffer.concat([p1, p2])));
  const second = await raw.startLarge("big/other");
  await raw.uploadPart(second, 1, small);
  await raw.uploadPart(second, 2, small);
  assert.match(
    (await raw.call("b2_finish_large_file", { fileId: second, partSha1Array: [sha1(small), sha1(small)] })).json.message,
    /smaller than the minimum/,
  );
  assert.is((await raw.call("b2_cancel_large_file", { fileId: second })).status, 200);
  assert.equal(emulator.unfinishedLargeFiles(), []);
  assert.equal(emulator.violations, []);
});

test("downloads: Range (206, suffix, 416) and HEAD", async ({ raw }) => {
  const data = bytes(1000, 9);
  await raw.upload("r", data);
  const part = await raw.download("r", { Range: "bytes=10-19" });
  assert.is(part.status, 206);
  assert.is(part.headers.get("content-range"), "bytes 10-19/1000");
  assert.ok(part.body.equals(data.subarray(10, 20)));
  assert.ok((await raw.download("r", { Range: "bytes=-5" })).body.equals(data.subarray(995)));
  assert.ok((await raw.download("r", { Range: "bytes=990-" })).body.equals(data.subarray(990)));
  assert.is((await raw.download("r", { Range: "bytes=1000-1001" })).status, 416);
  const head = await raw.download("r", {}, "HEAD");
  assert.is(head.status, 200);
  assert.is(head.headers.get("content-length"), "1000");
  assert.is(head.body.length, 0);
});

test("hide and delete versions", async ({ emulator, raw }) => {
  await raw.upload("h", Buffer.from("v1"));
  await raw.upload("h", Buffer.from("v2"));
  assert.is((await raw.download("h")).body.toString(), "v2");
  assert.is((await raw.call("b2_hide_file", { bucketId: emulator.bucketId, fileName: "h" })).status, 200);
  assert.is((await raw.download("h")).status, 404);
  assert.is((await raw.call("b2_hide_file", { bucketId: emulator.bucketId, fileName: "h" })).json.code, "already_hidden");
  assert.is((await raw.call("b2_hide_file", { bucketId: emulator.bucketId, fileName: "none" })).json.code, "no_such_file");
  const versions = (await raw.call("b2_list_file_versions", { bucketId: emulator.bucketId, prefix: "h" })).json.files;
  assert.equal(
    versions.map((v: any) => v.action),
    ["hide", "upload", "upload"],
  );
  for (const v of versions) assert.is((await raw.call("b2_delete_file_version", { fileName: "h", fileId: v.fileId })).status, 200);
  const again = await raw.call("b2_delete_file_version", { fileName: "h", fileId: versions[0].fileId });
  assert.is(again.json.code, "file_not_present");
});

test("capabilities: a key without deleteFiles cannot delete", async ({ emulator }) => {
  const limited = new RawB2(emulator, emulator.addKey({ capabilities: ["listFiles", "readFiles", "writeFiles"] }));
  await limited.authorize();
  const up = await limited.upload("k", Buffer.from("k"));
  assert.is(up.status, 200);
  const del = await limited.call("b2_delete_file_version", { fileName: "k", fileId: up.json.fileId });
  assert.is(del.status, 401);
  assert.is(del.json.code, "unauthorized");
});

test("two uploads at once on one URL are refused and recorded", async ({ emulator, raw }) => {
  const target = await raw.uploadTarget();
  emulator.setLatency("b2_upload_file", 100);
  const [a, b] = await Promise.all([raw.upload("one", Buffer.from("1"), { target }), raw.upload("two", Buffer.from("2"), { target })]);
  assert.equal([a.status, b.status].sort(), [200, 503]);
  assert.ok(emulator.violations.some((v) => v.includes("two uploads at once")));
});

test("faults and transaction classes are logged", async ({ emulator, raw }) => {
  const before = emulator.lastSeq;
  emulator.failNext("b2_list_file_names", "429", 1, { retryAfterSeconds: 3 });
  const throttled = await raw.call("b2_list_file_names", { bucketId: emulator.bucketId });
  assert.is(throttled.status, 429);
  assert.is(throttled.headers.get("retry-after"), "3");
  emulator.failNext("b2_get_upload_url", "503");
  assert.is((await raw.call("b2_get_upload_url", { bucketId: emulator.bucketId })).status, 503);
  await raw.upload("f", Buffer.from("f"));
  await raw.download("f");
  const counts = emulator.counts(before);
  assert.equal(counts.calls, { A: 3, B: 1, C: 1 });
  assert.is(counts.faults, 2);
  assert.equal(
    emulator.log.filter((e) => e.seq > before).map((e) => e.api),
    ["b2_list_file_names", "b2_get_upload_url", "b2_get_upload_url", "b2_upload_file", "b2_download_file_by_name"],
  );
});

test.run();
