// Sparse files come back sparse: a restore leaves a hole wherever a file has a whole 4 KiB block of zeros (aligned to
// the file), so a VM image or a database with holes takes on disk about what it did. The bytes read back are the same.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { open, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { backupOnce, restoreAll, workspace, type Workspace } from "./helpers/tree.js";

const MiB = 1024 * 1024;
const sha = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

/** A file of `size` bytes that is all hole except the given writes. */
async function sparseFile(path: string, size: number, writes: [number, Buffer][]): Promise<void> {
  const handle = await open(path, "w");
  try {
    await handle.truncate(size);
    for (const [at, bytes] of writes) await handle.write(bytes, 0, bytes.length, at);
  } finally {
    await handle.close();
  }
}

/** Everything under the workspace's source restored into `out` (holes left unless `sparse` is false). */
async function restore(ws: Workspace, out: string, sparse?: boolean) {
  const { result } = await restoreAll(ws, { paths: [ws.src], out, ...(sparse === undefined ? {} : { restorer: { sparse } }) });
  return result;
}

/** Bytes allocated to a file, once written back (ext4 counts worst-case metadata for unwritten data until then). */
async function allocated(path: string): Promise<number> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
    return (await handle.stat()).blocks * 512;
  } finally {
    await handle.close();
  }
}

test("a 100 MiB file with 68 KiB written restores with its holes, byte for byte", async () => {
  const ws = await workspace();
  try {
    const image = join(ws.src, "disk.img");
    await sparseFile(image, 100 * MiB, [
      [10 * MiB, randomBytes(64 * 1024)],
      [50 * MiB + 123, Buffer.from("x")],
      [99 * MiB + 4000, randomBytes(3000)],
    ]);
    // A file ending in zeros, and a small one (one chunk, written in one step): both come back with holes.
    await sparseFile(join(ws.src, "tail.bin"), 9 * MiB + 17, [[0, randomBytes(MiB + 5)]]);
    await sparseFile(join(ws.src, "small.bin"), 200 * 1024, [
      [0, randomBytes(4096)],
      [196 * 1024, randomBytes(4096)],
    ]);
    const original = await allocated(image);
    assert.ok(original < MiB, `the source is sparse (${original} bytes allocated)`);
    await backupOnce(ws);

    const out = join(ws.dir, "out");
    assert.is((await restore(ws, out)).errors, 0);
    const back = join(out, ws.src.slice(1));
    for (const name of ["disk.img", "tail.bin", "small.bin"]) {
      assert.is((await stat(join(back, name))).size, (await stat(join(ws.src, name))).size, `${name}: its size`);
      assert.is(await sha(join(back, name)), await sha(join(ws.src, name)), `${name}: its bytes`);
    }
    const restored = await allocated(join(back, "disk.img"));
    assert.ok(restored <= original + 8 * 1024, `restored ${restored} bytes allocated, the original ${original}`);
    assert.ok((await allocated(join(back, "small.bin"))) <= 16 * 1024, "a one-chunk file gets its holes too");
    assert.ok((await allocated(join(back, "tail.bin"))) < 2 * MiB, "a trailing run of zeros is a hole too");

    const full = join(ws.dir, "full");
    assert.is((await restore(ws, full, false)).errors, 0);
    assert.ok((await allocated(join(full, ws.src.slice(1), "disk.img"))) >= 100 * MiB, "sparse: false writes every byte");
    assert.is(await sha(join(full, ws.src.slice(1), "disk.img")), await sha(image));
  } finally {
    await ws.cleanup();
  }
});

test("zeros that do not fill an aligned 4 KiB block are written, and data around holes is exact", async () => {
  const ws = await workspace();
  try {
    // Data, then zeros from an odd offset, then data at another odd offset: the zero runs' ragged ends are written.
    const data = Buffer.concat([randomBytes(300_001), Buffer.alloc(2 * MiB + 4095), randomBytes(77), Buffer.alloc(6000), randomBytes(700_000)]);
    const path = join(ws.src, "ragged.bin");
    await sparseFile(path, data.length, [[0, data]]);
    await backupOnce(ws);
    const out = join(ws.dir, "out");
    assert.is((await restore(ws, out)).errors, 0);
    const back = await readFile(join(out, ws.src.slice(1), "ragged.bin"));
    assert.ok(back.equals(data), "every byte as it was");
    const used = await allocated(join(out, ws.src.slice(1), "ragged.bin"));
    assert.ok(used < data.length - MiB, `the long zero run is a hole (${used} of ${data.length} bytes allocated)`);
  } finally {
    await ws.cleanup();
  }
});

/** Bytes this process has read with read(2) and the like so far (`rchar` of /proc/self/io: page cache included). */
async function bytesRead(): Promise<number> {
  return Number(/rchar: (\d+)/.exec(await readFile("/proc/self/io", "utf8"))![1]);
}

test("a backup does not read a sparse file's holes: a 512 MiB image with 1 MiB of data reads about 1 MiB, and its chunks are those of its bytes", async () => {
  for (const format of [1, 2] as const) {
    const ws = await workspace({ format });
    try {
      const image = join(ws.src, "vm.img");
      await sparseFile(image, 512 * MiB, [
        [64 * MiB, randomBytes(512 * 1024)],
        [300 * MiB + 5, randomBytes(512 * 1024)],
      ]);
      const before = await bytesRead();
      await backupOnce(ws);
      const read = (await bytesRead()) - before;
      assert.ok(read < 64 * MiB, `format ${format}: the backup read ${read} bytes`);
      const out = join(ws.dir, "out");
      assert.is((await restore(ws, out)).errors, 0);
      assert.is(await sha(join(out, ws.src.slice(1), "vm.img")), await sha(image), `format ${format}: the same bytes back`);
    } finally {
      await ws.cleanup();
    }
  }
});

test.run();
