// Format v2's packs and blob codec (docs/format-v2.md "Packs"), including hostile packs.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { compress } from "zstd-napi";
import { PACK_MAGIC, PACK_TAIL_BYTES, PackBuilder, PackError, TOC_MAGIC, openBlob, readPack, tocLengthOf, type BlobEntry } from "@rtbackup/core/v2";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function packOf(blobs: Buffer[]) {
  const builder = new PackBuilder();
  for (const b of blobs) builder.add(sha(b), b);
  return builder.finish();
}

/** A pack with a hand-made table of contents (for hostile cases). */
function forged(body: Buffer, toc: string): Buffer {
  const gz = gzipSync(Buffer.from(toc));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(gz.length, 0);
  return Buffer.concat([PACK_MAGIC, body, gz, len, TOC_MAGIC]);
}

test("blobs round-trip through a pack; each is read alone from its own range", () => {
  const text = Buffer.from("a line of text that repeats\n".repeat(2000));
  const random = randomBytes(100_000);
  const tiny = Buffer.from("x");
  const pack = packOf([text, random, tiny, Buffer.alloc(0)]);
  assert.is(pack.id, sha(pack.bytes), "a pack is named by the SHA-256 of its bytes");
  assert.ok(pack.bytes.subarray(0, 8).equals(PACK_MAGIC) && pack.bytes.subarray(-8).equals(TOC_MAGIC));
  const [t, r, x, empty] = pack.entries as BlobEntry[];
  assert.is(t!.codec, "zstd", "text shrinks, so it is compressed");
  assert.ok(t!.length < text.length / 10);
  assert.is(r!.codec, "none", "random bytes do not shrink, so they are stored as they are");
  assert.is(r!.length, random.length);
  assert.is(x!.codec, "none");
  assert.is(empty!.size, 0);
  assert.equal(readPack(pack.bytes, pack.id), pack.entries, "the table of contents says what the builder said");
  for (const [entry, raw] of [
    [t!, text],
    [r!, random],
    [x!, tiny],
    [empty!, Buffer.alloc(0)],
  ] as const) {
    const stored = pack.bytes.subarray(entry.offset, entry.offset + entry.length);
    assert.ok(openBlob(entry, stored).equals(raw));
  }
});

test("a blob added twice is stored once; a wrong id is refused before anything is added", () => {
  const b = new PackBuilder();
  const data = Buffer.from("same bytes");
  const first = b.add(sha(data), data);
  assert.equal(b.add(sha(data), data), first);
  assert.is(b.count, 1);
  assert.throws(() => b.add(sha(Buffer.from("other")), data), /do not hash to its id/);
  assert.is(b.count, 1);
});

test("damaged stored bytes are refused, never returned", () => {
  const text = Buffer.from("compressible ".repeat(1000));
  const pack = packOf([text, randomBytes(5000)]);
  const [z, n] = pack.entries as BlobEntry[];
  const flip = (entry: BlobEntry) => {
    const stored = Buffer.from(pack.bytes.subarray(entry.offset, entry.offset + entry.length));
    stored[stored.length >> 1]! ^= 0xff;
    return stored;
  };
  assert.throws(() => openBlob(z!, flip(z!)));
  assert.throws(() => openBlob(n!, flip(n!)), /do not hash to its id/);
  assert.throws(() => openBlob(n!, pack.bytes.subarray(n!.offset, n!.offset + n!.length - 1)), /stored bytes, expected/);
  const bytes = Buffer.from(pack.bytes);
  bytes[20]! ^= 1;
  assert.throws(
    () => readPack(bytes, pack.id),
    (e: unknown) => e instanceof PackError && /do not hash to its name/.test((e as Error).message),
  );
});

test("a zstd frame that claims more than its entry's size is refused without allocating it", () => {
  const big = compress(Buffer.alloc(64 * 1024 * 1024));
  const entry: BlobEntry = { id: sha(Buffer.alloc(10)), offset: 8, length: big.length, size: 10, codec: "zstd" };
  const before = process.memoryUsage().arrayBuffers;
  assert.throws(() => openBlob(entry, big), /does not decompress into 10 bytes/);
  assert.ok(process.memoryUsage().arrayBuffers - before < 32 * 1024 * 1024, "the 64 MiB it claims were not allocated");
});

test("hostile tables of contents are refused, naming what is wrong", () => {
  const body = Buffer.from("0123456789");
  const id = sha(body);
  const line = (e: object) => `${JSON.stringify({ id, offset: 8, length: 10, size: 10, codec: "none", ...e })}\n`;
  const cases: [Buffer, RegExp][] = [
    [forged(body, line({ offset: 9 })), /starts at 9, expected 8/],
    [forged(body, line({ length: 11, size: 11 })), /ends past the blobs/],
    [forged(body, line({ codec: "lzma" })), /unknown codec "lzma"/],
    [forged(body, line({ size: 12 })), /length = size/],
    [forged(body, line({ id: "ABC" })), /id is not 64 lowercase hex/],
    [forged(body, line({ size: 2 ** 40, length: 2 ** 40 })), /size is not a whole number/],
    [forged(body, "not json\n"), /is not JSON/],
    [forged(body, line({}).slice(0, -1)), /does not end with a newline/],
    [Buffer.concat([Buffer.from("NOTAPACK"), body]), /does not start with the pack magic/],
    [Buffer.concat([PACK_MAGIC, body, Buffer.alloc(12)]), /does not end with the table-of-contents magic/],
  ];
  for (const [bytes, message] of cases) {
    assert.throws(
      () => readPack(bytes),
      (e: unknown) => e instanceof PackError && message.test((e as Error).message),
      String(message),
    );
  }
  assert.equal(readPack(forged(body, line({}))), [{ id, offset: 8, length: 10, size: 10, codec: "none" }], "the well-formed one reads");
  const tail = Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff]), TOC_MAGIC]);
  assert.is(tail.length, PACK_TAIL_BYTES);
  assert.throws(() => tocLengthOf(tail, 100), /longer than the pack/);
});

test.run();
