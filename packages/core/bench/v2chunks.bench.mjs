// Format v2's content path, piece by piece, on one core: the FastCDC chunker's MiB/s beside SHA-256's own (the
// issue asks that chunking keep near hashing speed), zstd compression of blobs (text-like and incompressible), and
// a 1-byte insertion at offset 1 MiB of a 256 MiB file: how many bytes would be stored again. Run after `npx tsc -b`.
import { createCipheriv, createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FastCdc, PackBuilder, compressBlob } from "@rtbackup/core/v2";
import { bestMs } from "../../../bench/lib.mjs";

const MiB = 1024 * 1024;

function pseudoRandom(n, seed) {
  const key = createHash("sha256").update(seed).digest().subarray(0, 16);
  return createCipheriv("aes-128-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(n));
}

const data = pseudoRandom(256 * MiB, "bench");
const cdc = new FastCdc();
const mibs = (bytes, ms) => Number((bytes / MiB / (ms / 1000)).toFixed(0));

const sha = mibs(
  data.length,
  bestMs(3, () => createHash("sha256").update(data).digest()),
);
const cut = mibs(
  data.length,
  bestMs(3, () => cdc.lengths(data)),
);
console.log(`SHA-256: ${sha} MiB/s; FastCDC cut points: ${cut} MiB/s (${((cut / sha) * 100).toFixed(0)}% of SHA-256)`);

// A 1-byte insertion at 1 MiB: the chunks of the edited file that the original did not have.
const ids = (buf) => {
  const out = [];
  let at = 0;
  for (const n of cdc.lengths(buf)) {
    out.push([
      createHash("sha256")
        .update(buf.subarray(at, at + n))
        .digest("hex"),
      n,
    ]);
    at += n;
  }
  return out;
};
const before = new Set(ids(data).map(([id]) => id));
const edited = Buffer.concat([data.subarray(0, MiB), Buffer.from([1]), data.subarray(MiB)]);
const fresh = ids(edited).filter(([id]) => !before.has(id));
const freshBytes = fresh.reduce((a, [, n]) => a + n, 0);
console.log(`1-byte insertion at 1 MiB of 256 MiB: ${fresh.length} new chunks, ${(freshBytes / MiB).toFixed(2)} MiB stored again`);

// Text: this repository's own TypeScript sources, concatenated (about what a home directory's text files are).
const sources = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
const packagesDir = fileURLToPath(new URL("../..", import.meta.url));
const tsFiles = readdirSync(packagesDir).flatMap((p) => (existsSync(join(packagesDir, p, "src")) ? sources(join(packagesDir, p, "src")) : []));
const text = Buffer.concat(tsFiles.map((f) => readFileSync(f))).subarray(0, 4 * MiB);
const random = data.subarray(0, 4 * MiB);
const zstd = (buf) => {
  let out;
  const ms = bestMs(5, () => (out = compressBlob(buf)));
  return { mibs: mibs(buf.length, ms), ratio: Number((out.stored.length / buf.length).toFixed(3)), codec: out.codec };
};
const zText = zstd(text);
const zRandom = zstd(random);
console.log(
  `zstd, ${(text.length / MiB).toFixed(1)} MiB of TypeScript: ${zText.mibs} MiB/s, ratio ${zText.ratio}; 4 MiB incompressible: ${zRandom.mibs} MiB/s, stored as ${zRandom.codec}`,
);

// A pack of 16 MiB of 4 KiB blobs (many small files): what building one costs, once packs reuse their memory.
const small = Array.from({ length: 4096 }, (_, i) => data.subarray(i * 4096, (i + 1) * 4096));
const smallIds = small.map((b) => createHash("sha256").update(b).digest("hex"));
const packMs = bestMs(3, () => {
  const builder = new PackBuilder();
  small.forEach((b, i) => builder.add(smallIds[i], b));
  builder.finish().release(); // as PackStore does once the pack is stored: the next build reuses its memory
});
console.log(`pack of 4,096 blobs of 4 KiB (16 MiB): built in ${packMs.toFixed(0)} ms (${mibs(16 * MiB, packMs)} MiB/s)`);

console.log(
  `BENCH_RESULT ${JSON.stringify({
    sha256_MiB_per_s: sha,
    fastcdc_MiB_per_s: cut,
    fastcdc_percent_of_sha256: Number(((cut / sha) * 100).toFixed(0)),
    insertion_1_byte_at_1MiB_of_256MiB_stored_again_MiB: Number((freshBytes / MiB).toFixed(2)),
    zstd_text_MiB_per_s: zText.mibs,
    zstd_text_ratio: zText.ratio,
    zstd_incompressible_MiB_per_s: zRandom.mibs,
    pack_4096_small_blobs_ms: Number(packMs.toFixed(0)),
  })}`,
);
