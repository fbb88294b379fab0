// Format v2's content-defined chunker (docs/format-v2.md "Chunks").
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createCipheriv, createHash } from "node:crypto";
import { Readable } from "node:stream";
import { DEFAULT_CDC, FastCdc, cdcParamsProblem, gearTable } from "@rtbackup/core/v2";

/** Deterministic pseudo-random bytes (AES-128-CTR of zeros, keyed by `seed`), so a failure can be reproduced. */
function bytes(n: number, seed: string): Buffer {
  const key = createHash("sha256").update(seed).digest().subarray(0, 16);
  return createCipheriv("aes-128-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(n));
}

const ids = (data: Buffer, cdc: FastCdc) => {
  const out: string[] = [];
  let at = 0;
  for (const n of cdc.lengths(data)) {
    out.push(
      createHash("sha256")
        .update(data.subarray(at, at + n))
        .digest("hex"),
    );
    at += n;
  }
  return out;
};

test("the gear table is the documented function of the seed", () => {
  const table = gearTable(0);
  const first = createHash("sha256")
    .update("rtb-fastcdc-gear")
    .update(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]))
    .digest()
    .readInt32BE(0);
  assert.is(table[0], first);
  assert.is(new Set(table).size, 256, "256 distinct entries");
  assert.not.equal([...gearTable(1)], [...table], "another seed, another table");
});

test("chunk sizes stay within the bounds and cluster around the average", () => {
  const cdc = new FastCdc();
  const data = bytes(64 * 1024 * 1024, "sizes");
  const lengths = cdc.lengths(data);
  assert.is(
    lengths.reduce((a, b) => a + b, 0),
    data.length,
  );
  for (const n of lengths.slice(0, -1)) assert.ok(n >= DEFAULT_CDC.minSize && n <= DEFAULT_CDC.maxSize, `chunk of ${n} bytes`);
  const mean = data.length / lengths.length;
  assert.ok(mean > 0.6 * DEFAULT_CDC.avgSize && mean < 1.6 * DEFAULT_CDC.avgSize, `mean chunk ${mean.toFixed(0)} bytes`);
  assert.equal(cdc.lengths(bytes(1000, "small")), [1000], "content up to minSize is one chunk");
  assert.equal(cdc.lengths(Buffer.alloc(0)), []);
  assert.equal(
    cdc.lengths(Buffer.alloc(9 * 1024 * 1024)),
    [4, 4, 1].map((m) => m * 1024 * 1024),
    "zeros never match: maxSize cuts",
  );
});

test("an insertion near the start changes only the chunks around it", () => {
  const cdc = new FastCdc();
  const original = bytes(64 * 1024 * 1024, "insert");
  const edited = Buffer.concat([original.subarray(0, 1024 * 1024), Buffer.from([0x42]), original.subarray(1024 * 1024)]);
  const before = new Set(ids(original, cdc));
  const after = ids(edited, cdc);
  const fresh = after.filter((id) => !before.has(id));
  assert.ok(fresh.length >= 1 && fresh.length <= 3, `${fresh.length} new chunks of ${after.length}`);
  // The bytes that would be uploaded again: at most 4 MiB (the target for a 1-byte insertion).
  let at = 0;
  let changedBytes = 0;
  for (const n of cdc.lengths(edited)) {
    if (
      !before.has(
        createHash("sha256")
          .update(edited.subarray(at, at + n))
          .digest("hex"),
      )
    )
      changedBytes += n;
    at += n;
  }
  assert.ok(changedBytes <= 4 * 1024 * 1024, `${changedBytes} bytes to store again`);
});

test("a stream in any block size is cut exactly as the whole buffer", async () => {
  const cdc = new FastCdc();
  const data = bytes(20 * 1024 * 1024 + 12345, "stream");
  const whole = cdc.lengths(data);
  for (const block of [1, 4096, 65536, 1024 * 1024 + 7, 8 * 1024 * 1024]) {
    const blocks =
      block === 1
        ? [data.subarray(0, 3), data.subarray(3)]
        : Array.from({ length: Math.ceil(data.length / block) }, (_, i) => data.subarray(i * block, (i + 1) * block));
    const got: number[] = [];
    const joined: Buffer[] = [];
    for await (const chunk of cdc.chunks(Readable.from(blocks))) {
      got.push(chunk.length);
      joined.push(chunk);
    }
    assert.equal(got, whole, `blocks of ${block}`);
    assert.ok(Buffer.concat(joined).equals(data));
  }
});

test("bad parameters are refused with the rule they break", () => {
  assert.match(cdcParamsProblem({ ...DEFAULT_CDC, avgSize: 1000000 }) ?? "", "powers of two");
  assert.match(cdcParamsProblem({ ...DEFAULT_CDC, minSize: 2048 }) ?? "", "4096 ≤ minSize");
  assert.match(cdcParamsProblem({ ...DEFAULT_CDC, maxSize: 32 * 1024 * 1024 }) ?? "", "maxSize ≤ 16777216");
  assert.match(cdcParamsProblem({ ...DEFAULT_CDC, seed: -1 }) ?? "", "seed");
  assert.throws(() => new FastCdc({ ...DEFAULT_CDC, minSize: DEFAULT_CDC.avgSize }), /invalid chunking/);
  assert.is(cdcParamsProblem(DEFAULT_CDC), undefined);
});

test.run();
