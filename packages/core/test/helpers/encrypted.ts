// Encrypted repositories for tests: a workspace whose store is created encrypted (a cheap scrypt work factor, so a
// test opens it many times in little time), with its passphrase in a file of mode 600.
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BackupError, LocalDirectoryStorage } from "@rtbackup/core";
import { RepositoryV2, encodeKey, writerKeyOf, type KeySource } from "@rtbackup/core/v2";
import * as assert from "uvu/assert";
import { workspace, type Workspace } from "./tree.js";

export const PASSPHRASE = "correct horse battery staple";

export interface EncryptedWorkspace extends Workspace {
  /** The passphrase file (mode 600). */
  passFile: string;
  /** A writer key file (mode 600) of the repository. */
  writerFile: string;
  /** The master key as `rtb key export` writes it (mode 600). */
  masterFile: string;
  repo: RepositoryV2;
  keys: KeySource;
}

/** A workspace with an encrypted v2 repository in its store. */
export async function encryptedWorkspace(): Promise<EncryptedWorkspace> {
  const ws = await workspace();
  const repo = await RepositoryV2.create(new LocalDirectoryStorage({ path: ws.store }), { encryption: { passphrase: PASSPHRASE, logN: 10 } });
  const master = repo.key!.key;
  const passFile = join(ws.dir, "passphrase");
  const writerFile = join(ws.dir, "writer.key");
  const masterFile = join(ws.dir, "master.key");
  await writeFile(passFile, `${PASSPHRASE}\n`, { mode: 0o600 });
  await writeFile(writerFile, encodeKey(writerKeyOf(master)), { mode: 0o600 });
  await writeFile(masterFile, encodeKey(master), { mode: 0o600 });
  return { ...ws, passFile, writerFile, masterFile, repo, keys: { passphrase: async () => PASSPHRASE } };
}

/** Every object under `root` (relative key → bytes). */
export async function storedObjects(root: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  async function visit(dir: string, rel: string) {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const key = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await visit(join(dir, e.name), key);
      else if (e.isFile()) out.set(key, await readFile(join(dir, e.name)));
    }
  }
  await visit(root, "");
  return out;
}

/** Asserts that `promise` rejects with a BackupError of `code` whose message matches `message`. */
export async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  try {
    await promise;
  } catch (err) {
    assert.instance(err, BackupError, String(err));
    assert.is((err as BackupError).code, code, (err as Error).message);
    assert.match((err as Error).message, message);
    return;
  }
  assert.unreachable(`expected ${code}`);
}
