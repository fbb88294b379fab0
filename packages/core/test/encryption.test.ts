import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { LocalDirectoryStorage, openRepository, type StorageBackend } from "@rtbackup/core";
import {
  AgeError,
  RepositoryV2,
  addKeyObject,
  ageDecrypt,
  generateAgeKeyPair,
  listKeyObjects,
  parseKey,
  readTreeV2,
  removeKeyObject,
  type KeySource,
} from "@rtbackup/core/v2";
import { backupOnce, describe, makeSampleTree, restoreAll, workspace } from "./helpers/tree.js";
import { encryptedWorkspace, rejectsWith, storedObjects } from "./helpers/encrypted.js";

const SECRET_NAME = "quarterly-salaries-2026.ods";
const SECRET_TEXT = "TOP SECRET: the launch code is 0000. ";

const keyFile = async (path: string): Promise<KeySource> => ({ keyFile: { path, text: await readFile(path, "utf8") } });

/** Counts the reads an engine makes of its store, but for its (plain) config. */
function countingGets(counts: { get: number }) {
  return (b: StorageBackend): StorageBackend => ({
    description: b.description,
    put: (k, body, size) => b.put(k, body, size),
    get: (k, r) => {
      if (k !== "config") counts.get++;
      return b.get(k, r);
    },
    head: (k) => b.head(k),
    list: (p) => b.list(p),
    delete: (k) => b.delete(k),
    ...(b.sync ? { sync: () => b.sync!() } : {}),
    ...(b.close ? { close: () => b.close!() } : {}),
  });
}

test("a passphrase-encrypted backup restores, and the store holds no name, path, content or plain hash of it", async () => {
  const ws = await encryptedWorkspace();
  try {
    await makeSampleTree(ws.src);
    await mkdir(join(ws.src, "finance"));
    const content = SECRET_TEXT.repeat(50);
    await writeFile(join(ws.src, "finance", SECRET_NAME), content);
    await backupOnce(ws, { encryptionPassphraseFile: ws.passFile });
    const { result } = await restoreAll(ws, { keys: ws.keys });
    assert.is(result.errors, 0);
    assert.equal(await describe(join(ws.out, ws.src.slice(1))), await describe(ws.src));

    const objects = await storedObjects(ws.store);
    const needles = [SECRET_NAME, "finance", SECRET_TEXT, ws.src, createHash("sha256").update(content).digest("hex"), `"size":${content.length}`];
    if (hostname().length >= 6) needles.push(hostname());
    for (const [key, bytes] of objects) {
      for (const needle of needles) assert.not.ok(bytes.includes(needle), `${key} holds ${JSON.stringify(needle.slice(0, 40))} in plain`);
    }
    const config = JSON.parse(objects.get("config")!.toString("utf8"));
    assert.equal(Object.keys(config.encryption), ["mode", "check"]);
    assert.is(config.encryption.mode, "age");
    // Every other object is an age file.
    for (const [key, bytes] of objects) if (key !== "config") assert.ok(bytes.subarray(0, 21).toString() === "age-encryption.org/v1", `${key} is an age file`);
  } finally {
    await ws.cleanup();
  }
});

test("no key, a wrong passphrase, another repository's key, and a plain repository given a key are clear errors", async () => {
  const ws = await encryptedWorkspace();
  const other = await encryptedWorkspace();
  const plain = await workspace();
  try {
    const storage = new LocalDirectoryStorage({ path: ws.store });
    await rejectsWith(openRepository(storage), "KEY_MISSING", /is encrypted: give its passphrase .*RTB_PASSPHRASE.* or a key file/);
    await rejectsWith(
      openRepository(storage, { keys: { passphrase: async () => "Tr0ub4dor&3" } }),
      "KEY_REJECTED",
      /the passphrase opens none of the 1 key object/,
    );
    await rejectsWith(
      openRepository(storage, { keys: await keyFile(other.masterFile) }),
      "KEY_REJECTED",
      /is a key of repository [0-9a-f]{32}, not of the repository at local:/,
    );
    await writeFile(join(ws.dir, "not-a-key"), "hello\n", { mode: 0o600 });
    await rejectsWith(
      openRepository(storage, { keys: await keyFile(join(ws.dir, "not-a-key")) }),
      "KEY_REJECTED",
      /not-a-key is not a repository key \(not JSON\)/,
    );
    await RepositoryV2.create(new LocalDirectoryStorage({ path: plain.store }));
    await rejectsWith(
      openRepository(new LocalDirectoryStorage({ path: plain.store }), { keys: ws.keys }),
      "KEY_REJECTED",
      /is not encrypted, but a key was given/,
    );
    // The right passphrase opens it, and says which key object did.
    const repo = (await openRepository(storage, { keys: ws.keys })) as RepositoryV2;
    assert.is(repo.key?.opened, ws.repo.key?.opened);
  } finally {
    await Promise.all([ws.cleanup(), other.cleanup(), plain.cleanup()]);
  }
});

test("a writer key backs up, reads nothing from the store, survives a lost state cache, and the master key restores it all", async () => {
  const ws = await encryptedWorkspace();
  try {
    await makeSampleTree(ws.src);
    await writeFile(join(ws.src, "notes.txt"), "first\n");
    const counts = { get: 0 };
    await backupOnce(ws, { encryptionKeyFile: ws.writerFile }, countingGets(counts));
    await writeFile(join(ws.src, "notes.txt"), "second, longer\n");
    await writeFile(join(ws.src, "new.txt"), "new\n");
    await backupOnce(ws, { encryptionKeyFile: ws.writerFile }, countingGets(counts));
    // The state cache is lost: the writer cannot read the index to rebuild it, so it starts a new lane and uploads again.
    await rm(ws.state, { recursive: true, force: true });
    await writeFile(join(ws.src, "after-loss.txt"), "still backed up\n");
    await backupOnce(ws, { encryptionKeyFile: ws.writerFile }, countingGets(counts));
    assert.is(counts.get, 0, "a writer-key engine reads no object but the config");

    const { result } = await restoreAll(ws, { keys: await keyFile(ws.masterFile) });
    assert.is(result.errors, 0);
    assert.equal(await describe(join(ws.out, ws.src.slice(1))), await describe(ws.src));
    const lanes = [...(await storedObjects(ws.store)).keys()].filter((k) => /^lanes\/[0-9a-f]{32}\/lane$/.test(k));
    assert.is(lanes.length, 2, "the lost cache took a new lane");
  } finally {
    await ws.cleanup();
  }
});

test("a process with the writer key holds no identity and can open no stored object", async () => {
  const ws = await encryptedWorkspace();
  try {
    await makeSampleTree(ws.src);
    await backupOnce(ws, { encryptionKeyFile: ws.writerFile });
    const writerText = await readFile(ws.writerFile, "utf8");
    assert.not.match(writerText, /AGE-SECRET-KEY/);
    const held = parseKey(writerText, "writer key");
    assert.is(held.kind, "writer");
    assert.is(held.identity, undefined);
    const repo = (await openRepository(new LocalDirectoryStorage({ path: ws.store }), { keys: await keyFile(ws.writerFile) })) as RepositoryV2;
    assert.is(repo.key?.key.identity, undefined);
    assert.not.ok(repo.cipher.canRead);
    await rejectsWith(readTreeV2(repo), "KEY_MISSING", /holds a writer key only/);
    let tried = 0;
    for (const [key, bytes] of await storedObjects(ws.store)) {
      if (key === "config") continue;
      assert.throws(() => repo.cipher.open(bytes, key), /writer key only/, key);
      // Nor does anything it holds open it as a passphrase or an identity.
      for (const attempt of [{ passphrase: held.secret.toString("base64") }, { identities: [generateAgeKeyPair().identity] }]) {
        assert.throws(
          () => ageDecrypt(bytes, attempt),
          (err: unknown) => err instanceof AgeError,
          key,
        );
      }
      tried++;
    }
    assert.ok(tried >= 4, `objects tried: ${tried}`);
  } finally {
    await ws.cleanup();
  }
});

test("keys: another passphrase and an identity file open the repository; removing the first keeps the data; the last is kept", async () => {
  const ws = await encryptedWorkspace();
  try {
    await writeFile(join(ws.src, "a.txt"), "kept\n");
    await backupOnce(ws, { encryptionPassphraseFile: ws.passFile });
    const storage = new LocalDirectoryStorage({ path: ws.store });
    const master = ws.repo.key!.key;
    const second = await addKeyObject(storage, "", master, { passphrase: "a second passphrase", logN: 10 });
    const pair = generateAgeKeyPair();
    await writeFile(join(ws.dir, "identity.txt"), `# created by a test\n${pair.identity}\n`, { mode: 0o600 });
    const third = await addKeyObject(storage, "", master, { recipient: pair.recipient });
    assert.equal((await listKeyObjects(storage, "")).map((k) => k.kind).sort(), ["identity", "passphrase", "passphrase"]);

    await removeKeyObject(storage, "", ws.repo.key!.opened!);
    await rejectsWith(openRepository(storage, { keys: ws.keys }), "KEY_REJECTED", /opens none of the 1 key object/);
    const bySecond = (await openRepository(storage, { keys: { passphrase: async () => "a second passphrase" } })) as RepositoryV2;
    assert.is(bySecond.key?.opened, second);
    const byIdentity = (await openRepository(storage, { keys: await keyFile(join(ws.dir, "identity.txt")) })) as RepositoryV2;
    assert.is(byIdentity.key?.opened, third);
    const { result } = await restoreAll(ws, { keys: await keyFile(join(ws.dir, "identity.txt")) });
    assert.is(result.errors, 0);
    assert.is(await readFile(join(ws.out, ws.src.slice(1), "a.txt"), "utf8"), "kept\n");

    await removeKeyObject(storage, "", second);
    await rejectsWith(removeKeyObject(storage, "", third), "KEY_REJECTED", /the repository's last key/);
  } finally {
    await ws.cleanup();
  }
});

test.run();
