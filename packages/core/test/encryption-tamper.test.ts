import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { LocalDirectoryStorage, StorageError, openRepository } from "@rtbackup/core";
import { AgeRanges, RepositoryV2, ageEncrypt, baseKey, laneBatchKey, packKey, readFileV2, readTreeV2, type LaneBatchName } from "@rtbackup/core/v2";
import { backupTree } from "./helpers/v2writer.js";
import { encryptedWorkspace, rejectsWith, type EncryptedWorkspace } from "./helpers/encrypted.js";

const CHUNK = 64 * 1024 + 16;

interface Fixture {
  ws: EncryptedWorkspace;
  batches: LaneBatchName[];
  pack: string;
  read(): Promise<RepositoryV2>;
}

/** An encrypted repository with three batches of one lane, and a pack of several age chunks (a 300 KB random file). */
async function fixture(): Promise<Fixture> {
  const ws = await encryptedWorkspace();
  await writeFile(join(ws.src, "big.bin"), randomBytes(300_000));
  await writeFile(join(ws.src, "a.txt"), "one\n");
  const lane = await ws.repo.openLane();
  const known = new Set<string>();
  const batches = [await backupTree(ws.repo, lane, ws.src, known)];
  await writeFile(join(ws.src, "a.txt"), "two\n");
  batches.push(await backupTree(ws.repo, lane, ws.src, known));
  await writeFile(join(ws.src, "a.txt"), "three\n");
  batches.push(await backupTree(ws.repo, lane, ws.src, known));
  const tree = await readTreeV2(ws.repo);
  const big = tree.entries.get(join(ws.src, "big.bin"))!;
  const pack = tree.blobs.get(big.chunks[0]!)!.pack;
  return { ws, batches, pack, read: () => RepositoryV2.open(new LocalDirectoryStorage({ path: ws.store }), { keys: ws.keys }) };
}

/** Runs `check` with the object at `key` changed by `mutate`, then puts the original back. */
async function tampered(f: Fixture, key: string, mutate: (bytes: Buffer) => Buffer, check: () => Promise<void>): Promise<void> {
  const path = join(f.ws.store, key);
  const original = await readFile(path);
  await writeFile(path, mutate(Buffer.from(original)));
  try {
    await check();
  } finally {
    await writeFile(path, original);
  }
}

async function readBigFails(f: Fixture, message: RegExp): Promise<void> {
  const repo = await f.read();
  const tree = await readTreeV2(repo);
  try {
    await readFileV2(repo, tree, tree.entries.get(join(f.ws.src, "big.bin"))!);
  } catch (err) {
    assert.instance(err, StorageError);
    assert.is((err as StorageError).code, "INTEGRITY");
    assert.match((err as Error).message, message);
    return;
  }
  assert.unreachable("the damaged pack was read");
}

async function laneDamage(f: Fixture): Promise<string> {
  const tree = await readTreeV2(await f.read());
  assert.ok(tree.damage.length > 0, "damage is reported");
  return tree.damage.map((d) => d.message).join("; ");
}

test("packs: a flipped bit, reordered age chunks and a truncation are each refused, naming the pack", async () => {
  const f = await fixture();
  try {
    const key = packKey(f.pack);
    const named = new RegExp(`pack ${key.replaceAll("/", "\\/")}`);
    await tampered(
      f,
      key,
      (b) => {
        b[b.length >> 1]! ^= 0x10;
        return b;
      },
      () => readBigFails(f, named),
    );
    const bytes = await readFile(join(f.ws.store, key));
    const start = AgeRanges.open(bytes, bytes.length, { identities: [f.ws.repo.key!.key.identity!] })!.chunksStart;
    await tampered(
      f,
      key,
      (b) =>
        Buffer.concat([b.subarray(0, start), b.subarray(start + CHUNK, start + 2 * CHUNK), b.subarray(start, start + CHUNK), b.subarray(start + 2 * CHUNK)]),
      () => readBigFails(f, /payload chunk 0 does not authenticate/),
    );
    await tampered(
      f,
      key,
      (b) => b.subarray(0, b.length - 100),
      () => readBigFails(f, named),
    );
    // And untouched, it reads.
    const repo = await f.read();
    const tree = await readTreeV2(repo);
    assert.is((await readFileV2(repo, tree, tree.entries.get(join(f.ws.src, "big.bin"))!)).length, 300_000);
  } finally {
    await f.ws.cleanup();
  }
});

test("batches: a flipped bit, a truncation, a swap, a replay and a forgery to the recipient are each named as damage", async () => {
  const f = await fixture();
  try {
    const [b0, b1, b2] = f.batches as [LaneBatchName, LaneBatchName, LaneBatchName];
    const flip = (b: Buffer) => {
      b[b.length - 20]! ^= 1;
      return b;
    };
    await tampered(f, b1.key, flip, async () => assert.match(await laneDamage(f), new RegExp(`${b1.key}.*does not decrypt`)));
    await tampered(
      f,
      b1.key,
      (b) => b.subarray(0, b.length - 30),
      async () => assert.match(await laneDamage(f), /does not decrypt/),
    );
    const b0bytes = await readFile(join(f.ws.store, b0.key));
    await tampered(
      f,
      b1.key,
      () => b0bytes,
      async () => assert.match(await laneDamage(f), /keyed digest does not match its name/),
    );
    // A replay: batch 1's bytes, under the name of a fourth batch with batch 1's digest.
    const replayKey = laneBatchKey(b1.lane, 3, b2.time + 1, b1.digest);
    await writeFile(join(f.ws.store, replayKey), await readFile(join(f.ws.store, b1.key)));
    assert.match(await laneDamage(f), new RegExp(`batch 3 .*${replayKey}.* header seq 1 does not match its name \\(3\\)`));
    await tampered(
      f,
      replayKey,
      () => forgedBatch(f, b2),
      async () => assert.match(await laneDamage(f), /keyed digest does not match its name/),
    );
  } finally {
    await f.ws.cleanup();
  }
});

/** What an attacker who knows the recipient (not the secret) can make: a well-formed batch sealed to it. */
function forgedBatch(f: Fixture, after: LaneBatchName): Buffer {
  const header = { v: 2, kind: "batch", lane: after.lane, seq: 3, time: after.time + 1, count: 1, prev: after.digest };
  const record = { op: "delete", path: join(f.ws.src, "a.txt") };
  const plain = gzipSync(Buffer.from(`${JSON.stringify(header)}\n${JSON.stringify(record)}\n`));
  return ageEncrypt(plain, { recipients: [f.ws.repo.key!.key.recipient] });
}

test("bases: one forged to the recipient (it would hide every batch of the lane) is refused, named, and the tree reads whole", async () => {
  const f = await fixture();
  try {
    const before = await readTreeV2(await f.read());
    const lane = f.batches[0]!.lane;
    // Anyone may encrypt to the public recipient; only the repository secret gives the keyed digest of its name.
    const body = {
      v: 2,
      kind: "base",
      time: Date.now(),
      lane: "f".repeat(32),
      last: null,
      cut: { [lane]: { seq: 2, digest: f.batches[2]!.digest } },
      candidates: [],
      pruneLanes: [],
    };
    const plain = gzipSync(Buffer.from(`${JSON.stringify(body)}\n`));
    const key = baseKey(body.time, createHash("sha256").update(plain).digest("hex"));
    await mkdir(join(f.ws.store, "index", "base"), { recursive: true });
    await writeFile(join(f.ws.store, ...key.split("/")), ageEncrypt(plain, { recipients: [f.ws.repo.key!.key.recipient] }));
    const after = await readTreeV2(await f.read());
    assert.equal([...after.entries.keys()].sort(), [...before.entries.keys()].sort(), "every file is still there");
    assert.is(after.damage.length, 1);
    assert.match(after.damage[0]!.message, /base index\/base\/\d+-[0-9a-f]{64} cannot be read: .*keyed digest|does not match/);
  } finally {
    await f.ws.cleanup();
  }
});

test("the config: a downgrade to no encryption and an altered key check are refused before anything is read", async () => {
  const f = await fixture();
  try {
    const storage = new LocalDirectoryStorage({ path: f.ws.store });
    const config = JSON.parse(await readFile(join(f.ws.store, "config"), "utf8"));
    await tampered(
      f,
      "config",
      () => Buffer.from(JSON.stringify({ ...config, encryption: { mode: "none" } })),
      () => rejectsWith(openRepository(storage, { keys: f.ws.keys }), "KEY_REJECTED", /is not encrypted, but a key was given/),
    );
    await tampered(
      f,
      "config",
      () => Buffer.from(JSON.stringify({ ...config, encryption: { mode: "age", check: "0".repeat(64) } })),
      () => rejectsWith(openRepository(storage, { keys: f.ws.keys }), "KEY_REJECTED", /does not match the key check/),
    );
  } finally {
    await f.ws.cleanup();
  }
});

test.run();
