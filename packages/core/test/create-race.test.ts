// Creating a repository while other processes create it too (two agents started on one new store): every one of
// them ends up in the same repository, whose config was written once, and an encrypted one keeps only the key
// object its config's check accepts.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { copyFile, readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { LocalDirectoryStorage, openRepository, type StorageBackend } from "@rtbackup/core";
import { withTempDir } from "./helpers/tempDir.js";

const CHILD = `
import { LocalDirectoryStorage, isV2, openRepository } from "@rtbackup/core";
const [store, format, passphrase] = process.argv.slice(1);
await new Promise((resolve) => process.stdin.once("data", resolve));
const keys = passphrase ? { passphrase: async () => passphrase } : undefined;
const repo = await openRepository(new LocalDirectoryStorage({ path: store }), { create: { format: Number(format), chunkSize: 1 << 20 }, ...(keys ? { keys } : {}) });
process.stdout.write(JSON.stringify({ id: repo.config.id, encrypted: isV2(repo) && repo.cipher.encrypted }));
`;

/** Starts `count` processes that each open-or-create the repository at `store`, released together; their ids. */
async function race(count: number, store: string, format: number, passphrase = ""): Promise<string[]> {
  const children = Array.from({ length: count }, () => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD, store, String(format), passphrase], {
      cwd: new URL("..", import.meta.url).pathname,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d));
    child.stderr.on("data", (d: Buffer) => (err += d));
    const done = new Promise<string>((resolve, reject) =>
      child.once("exit", (code) => (code === 0 ? resolve(JSON.parse(out).id as string) : reject(new Error(`child exited ${code}: ${err}`)))),
    );
    return { child, done };
  });
  // Every child has loaded its modules and waits on stdin; one write releases them all at once.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  for (const { child } of children) child.stdin.end("go");
  return Promise.all(children.map((c) => c.done));
}

test("racing processes creating one v2 repository all open the one whose config was written", async () => {
  await withTempDir("rtb-create-race-", async (dir) => {
    for (let round = 0; round < 3; round++) {
      const store = join(dir, `store-${round}`);
      const ids = await race(6, store, 2);
      const config = JSON.parse(await readFile(join(store, "config"), "utf8")) as { id: string };
      assert.equal(new Set(ids), new Set([config.id]), `round ${round}: ${ids.join(" ")}`);
    }
  });
});

test("racing processes creating one v1 repository all open the same one", async () => {
  await withTempDir("rtb-create-race-", async (dir) => {
    const ids = await race(6, join(dir, "store"), 1);
    assert.is(new Set(ids).size, 1, ids.join(" "));
  });
});

test("racing processes creating one encrypted repository: one key object is left, and the passphrase opens it", async () => {
  await withTempDir("rtb-create-race-", async (dir) => {
    const store = join(dir, "store");
    const ids = await race(4, store, 2, "correct horse");
    assert.is(new Set(ids).size, 1, ids.join(" "));
    assert.is((await readdir(join(store, "keys"))).length, 1);
    const keys = { passphrase: async () => "correct horse" };
    const again = await openRepository(new LocalDirectoryStorage({ path: store }), { keys });
    assert.is(again.config.id, ids[0]);
    // Had the loser's key object stayed (a key that may not delete), the passphrase still finds the fitting one,
    // even when the other sorts first.
    const other = join(dir, "other");
    await openRepository(new LocalDirectoryStorage({ path: other }), { create: { format: 2, chunkSize: 1 << 20 }, keys });
    await copyFile(join(other, "keys", (await readdir(join(other, "keys")))[0]!), join(store, "keys", "0000000000000000"));
    const withOrphan = await openRepository(new LocalDirectoryStorage({ path: store }), { keys });
    assert.is(withOrphan.config.id, ids[0]);
  });
});

test("a backend without putNew: a creator whose config was overwritten before it read it back opens the other's", async () => {
  await withTempDir("rtb-create-race-", async (dir) => {
    const local = new LocalDirectoryStorage({ path: join(dir, "store") });
    // Both creators look (twice each: open, then create) and find nothing; neither reads its config back before both
    // have written.
    const barrier = (count: number) => {
      let seen = 0;
      let release!: () => void;
      const all = new Promise<void>((resolve) => (release = resolve));
      return { all, arrive: () => ++seen === count && release() };
    };
    const looked = [barrier(2), barrier(2)];
    const written = barrier(2);
    let heads = 0;
    const plain: StorageBackend = {
      description: local.description,
      put: async (key, body, size) => {
        await local.put(key, body, size);
        if (key === "config") written.arrive();
      },
      get: async (key, range) => {
        if (key === "config") await written.all;
        return local.get(key, range);
      },
      head: async (key) => {
        const phase = looked[Math.floor(heads / 2)];
        if (key === "config" && phase) {
          heads += 1;
          phase.arrive();
          await phase.all;
        }
        return local.head(key);
      },
      list: (prefix) => local.list(prefix),
      delete: (key) => local.delete(key),
    };
    const [a, b] = await Promise.all([1, 2].map(() => openRepository(plain, { create: { format: 2, chunkSize: 1 << 20 } })));
    assert.is(a!.config.id, b!.config.id);
  });
});

test.run();
