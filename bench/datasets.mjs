// The benchmark's datasets, deterministic by seed and sized by --scale:
//  small: many files of 1–16 KiB in a deep tree (random bytes);
//  sparse: 10,000 files of 1–16 KiB, five to a directory (2,000 directories): many directories, few files each;
//  large: a few files of 256 MiB (random bytes);
//  mixed: a home-directory-like tree: dot-config text, documents, source trees, photos/archives, duplicates, symlinks.
import { mkdir, stat, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { prng, randomInt } from "./lib.mjs";

const KiB = 1024;
const MiB = 1024 * KiB;
const WORDS =
  "the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were her she there been one all would their we him when".split(
    " ",
  );

/** Compressible text-like bytes (words from a small vocabulary), deterministic by `next`. */
function textBytes(size, next) {
  const parts = [];
  let n = 0;
  while (n < size) {
    const w = `${WORDS[next(WORDS.length)]}${next(12) === 0 ? "\n" : " "}`;
    parts.push(w);
    n += w.length;
  }
  return Buffer.from(parts.join("")).subarray(0, size);
}

/** Dataset specs at a scale: name → human description and a file list generator. */
export function datasets(scale) {
  const n = (x, min = 1) => Math.max(min, Math.round(x * scale));
  const small = n(5000, 10);
  const sparse = n(10000, 10);
  const large = n(4);
  const mixed = n(2000, 20);
  return [
    { name: "small", describe: `${small} × 1–16 KiB, 7 levels deep`, generate: (root) => makeSmall(root, small) },
    { name: "sparse", describe: `${sparse} × 1–16 KiB, 5 per directory (${Math.ceil(sparse / 5)} directories)`, generate: (root) => makeSparse(root, sparse) },
    { name: "large", describe: `${large} × 256 MiB`, generate: (root) => makeLarge(root, large) },
    { name: "mixed", describe: `${mixed} files, home-like (text, source, media, duplicates, symlinks)`, generate: (root) => makeMixed(root, mixed) },
  ];
}

async function put(path, bytes) {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
}

async function makeSmall(root, count) {
  const fill = prng(11);
  const pick = randomInt(12);
  const buf = Buffer.alloc(16 * KiB);
  const files = [];
  for (let i = 0; i < count; i++) {
    // 7 directory levels, fan-out 4 near the top, so paths are long and directories many.
    const parts = [];
    let k = Math.floor(i / 20);
    for (let level = 0; level < 7; level++) {
      parts.push(`l${level}_${k % 4}`);
      k = Math.floor(k / 4);
    }
    const path = join(root, ...parts, `file${i}.dat`);
    const size = KiB + pick(15 * KiB + 1);
    await put(path, fill(buf).subarray(0, size));
    files.push(path);
  }
  return files;
}

async function makeSparse(root, count) {
  const fill = prng(41);
  const pick = randomInt(42);
  const buf = Buffer.alloc(16 * KiB);
  const files = [];
  for (let i = 0; i < count; i++) {
    // Two levels: 40 top directories of 50 each, five files per leaf directory.
    const d = Math.floor(i / 5);
    const path = join(root, `top${d % 40}`, `dir${d}`, `file${i}.dat`);
    await put(path, fill(buf).subarray(0, KiB + pick(15 * KiB + 1)));
    files.push(path);
  }
  return files;
}

async function makeLarge(root, count) {
  const fill = prng(21);
  const buf = Buffer.alloc(256 * MiB);
  const files = [];
  for (let i = 0; i < count; i++) {
    const path = join(root, `image${i}.img`);
    await put(path, fill(buf));
    files.push(path);
  }
  return files;
}

async function makeMixed(root, count) {
  const fill = prng(31);
  const pick = randomInt(32);
  const files = [];
  const projects = Math.max(1, Math.round(count / 400));
  let previous;
  for (let i = 0; i < count; i++) {
    const roll = pick(100);
    let path;
    let bytes;
    if (roll < 25) {
      path = join(root, ".config", `app${i % 37}`, `settings${i}.conf`);
      bytes = textBytes(200 + pick(4 * KiB), pick);
    } else if (roll < 60) {
      path = join(root, "src", `project${i % projects}`, `pkg${i % 23}`, `mod${i % 7}`, `file${i}.ts`);
      bytes = textBytes(KiB + pick(24 * KiB), pick);
    } else if (roll < 85) {
      path = join(root, "Documents", `year${2015 + (i % 10)}`, `doc${i}.txt`);
      bytes = textBytes(4 * KiB + pick(60 * KiB), pick);
    } else if (roll < 93 && previous) {
      // Copies of files that exist elsewhere (downloads saved twice, vendored files).
      path = join(root, "Downloads", `copy${i}${previous.ext}`);
      bytes = previous.bytes;
    } else if (roll < 98) {
      path = join(root, "Pictures", `album${i % 13}`, `IMG_${i}.jpg`);
      bytes = fill(Buffer.alloc(64 * KiB + pick(448 * KiB)));
    } else {
      path = join(root, "Archives", `backup${i}.tar.gz`);
      bytes = fill(Buffer.alloc(MiB + pick(3 * MiB)));
    }
    await put(path, bytes);
    files.push(path);
    if (bytes.length < 256 * KiB) previous = { bytes, ext: path.slice(path.lastIndexOf(".")) };
  }
  await mkdir(join(root, ".local", "bin"), { recursive: true });
  for (let i = 0; i < Math.min(20, files.length); i++) await symlink(files[i * Math.floor(files.length / 20)], join(root, ".local", "bin", `link${i}`));
  return files;
}

/** Rewrites 1% of `files` (at least one; every 100th) with new bytes of the same size. Returns how many. */
export async function touchOnePercent(files, seed = 99) {
  const fill = prng(seed);
  const chosen = files.filter((_, i) => i % 100 === 50 % files.length);
  const list = chosen.length ? chosen : [files[0]];
  for (const path of list) {
    const { size } = await stat(path);
    await writeFile(path, fill(Buffer.alloc(size)));
  }
  return list.length;
}
