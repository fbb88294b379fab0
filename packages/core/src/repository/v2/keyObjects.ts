import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { BackupError, StorageError } from "../../errors.js";
import { AgeError, ageDecrypt, ageEncrypt, type AgeWith } from "../../crypto/age.js";
import { KeyFormatError, encodeKey, keyMatches, parseKey, type RepositoryKey } from "../../crypto/repositoryKey.js";
import { collectStream } from "../../io/collectStream.js";
import { processSecrets } from "../../secrets/SecretRegistry.js";
import type { StorageBackend } from "../../storage/StorageBackend.js";

/** What wraps a key object: a passphrase (age scrypt), or the recipient of an age identity file the user keeps. */
export type KeyWrap = { readonly passphrase: string; readonly logN?: number } | { readonly recipient: string };

/**
 * Where a process finds its key: a key file's text (a master or writer key as `rtb key export` writes it, or an age
 * identity file that opens a key object), or a passphrase that opens a key object (asked only when needed).
 */
export interface KeySource {
  readonly keyFile?: { readonly path: string; readonly text: string };
  readonly passphrase?: () => Promise<string>;
  /** Asks for a passphrase, as a last resort: unlike the others it does not say the repository must be encrypted. */
  readonly prompt?: () => Promise<string>;
}

/** One key object: `keys/<id>`, an age file holding the master key, opened by a passphrase or an identity. */
export interface KeyObject {
  readonly id: string;
  readonly key: string;
  readonly size: number;
  /** How it opens, from its age header. */
  readonly kind: "passphrase" | "identity" | "unknown";
}

const KEY_ID = /^[0-9a-f]{16}$/;
const MAX_KEY_OBJECT = 64 * 1024;

/** Every key object under `prefix`, with how each opens. */
export async function listKeyObjects(storage: StorageBackend, prefix: string): Promise<KeyObject[]> {
  const out: KeyObject[] = [];
  for await (const info of storage.list(`${prefix}keys/`)) {
    const id = info.key.slice(`${prefix}keys/`.length);
    if (!KEY_ID.test(id)) continue;
    const head = info.size === 0 ? Buffer.alloc(0) : await collectStream(await storage.get(info.key, { start: 0, end: Math.min(info.size, 256) - 1 }));
    const stanza = /\n-> (\S+)/.exec(head.toString("latin1"))?.[1];
    out.push({ id, key: info.key, size: info.size, kind: stanza === "scrypt" ? "passphrase" : stanza === "X25519" ? "identity" : "unknown" });
  }
  return out;
}

/** Stores the master key `key` as a new key object wrapped by `wrap`; returns its id. */
export async function addKeyObject(storage: StorageBackend, prefix: string, key: RepositoryKey, wrap: KeyWrap): Promise<string> {
  if (key.kind !== "master") throw new BackupError("KEY_MISSING", "only a master key can be stored as a key object");
  const id = randomBytes(8).toString("hex");
  const text = encodeKey(key, { created: new Date().toISOString(), host: hostname() });
  const body = ageEncrypt(Buffer.from(text), "passphrase" in wrap ? wrap : { recipients: [wrap.recipient] });
  await storage.put(`${prefix}keys/${id}`, body, body.length);
  await storage.sync?.();
  return id;
}

/** Removes key object `id`; refuses to remove the last one (the data would be gone with it). */
export async function removeKeyObject(storage: StorageBackend, prefix: string, id: string): Promise<void> {
  const keys = await listKeyObjects(storage, prefix);
  if (!keys.some((k) => k.id === id)) throw new BackupError("KEY_REJECTED", `there is no key ${JSON.stringify(id)} in ${storage.description} (rtb key list)`);
  if (keys.length === 1) throw new BackupError("KEY_REJECTED", `key ${id} is the repository's last key: without a key the data cannot be read`);
  await storage.delete(`${prefix}keys/${id}`);
}

/** The identities (`AGE-SECRET-KEY-1…` lines) of an age identity file, or undefined when it has none. */
function identitiesIn(text: string): string[] | undefined {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const found = lines.filter((l) => l.startsWith("AGE-SECRET-KEY-1"));
  return found.length > 0 && lines.every((l) => l === "" || l.startsWith("#") || l.startsWith("AGE-SECRET-KEY-1")) ? found : undefined;
}

/**
 * The key `source` gives for the repository `repository` whose config has key check `check`: a key file's own key,
 * or the master key of the first key object that the identity file or the passphrase opens. The key is checked
 * against the config before it is returned. Returns which key object opened, when one did.
 */
export async function unlockKey(
  storage: StorageBackend,
  prefix: string,
  repository: { id: string; check: string },
  source: KeySource,
): Promise<{ key: RepositoryKey; opened?: string }> {
  const where = `the repository at ${storage.description}${prefix ? ` (prefix ${prefix})` : ""}`;
  const file = source.keyFile;
  const fits = (key: RepositoryKey) => key.repository === repository.id && keyMatches(key, repository.check);
  let found: { key: RepositoryKey; opened?: string } | undefined;
  if (file) {
    const identities = identitiesIn(file.text);
    if (identities) found = await openKeyObjects(storage, prefix, { identities }, "identity", `the identity file ${file.path}`, where, fits);
    else {
      try {
        found = { key: parseKey(file.text, `key file ${file.path}`) };
      } catch (err) {
        if (err instanceof KeyFormatError)
          throw new BackupError("KEY_REJECTED", `${err.message}; expected a key written by "rtb key export" or "rtb key writer", or an age identity file`);
        throw err;
      }
    }
  } else if (source.passphrase ?? source.prompt) {
    const passphrase = await (source.passphrase ?? source.prompt)!();
    processSecrets.add(passphrase);
    found = await openKeyObjects(storage, prefix, { passphrase }, "passphrase", "the passphrase", where, fits);
  } else {
    throw new BackupError(
      "KEY_MISSING",
      `${where} is encrypted: give its passphrase (RTB_PASSPHRASE_FILE, --passphrase-file, RTB_PASSPHRASE or the prompt) or a key file (--key-file, EncryptionKeyFile)`,
    );
  }
  const { key } = found;
  const from = file ? `key file ${file.path}` : "the key the passphrase opened";
  if (key.repository !== repository.id)
    throw new BackupError("KEY_REJECTED", `${from} is a key of repository ${key.repository}, not of ${where} (${repository.id})`);
  if (!keyMatches(key, repository.check)) throw new BackupError("KEY_REJECTED", `${from} does not match the key check in the config of ${where}`);
  return found;
}

async function openKeyObjects(
  storage: StorageBackend,
  prefix: string,
  keys: AgeWith,
  kind: KeyObject["kind"],
  what: string,
  where: string,
  fits: (key: RepositoryKey) => boolean,
): Promise<{ key: RepositoryKey; opened: string }> {
  let misfit: { key: RepositoryKey; opened: string } | undefined;
  const candidates = (await listKeyObjects(storage, prefix)).filter((k) => k.kind === kind);
  if (candidates.length === 0)
    throw new BackupError("KEY_REJECTED", `${where} has no key object that ${what} could open (none is wrapped that way: rtb key list)`);
  for (const candidate of candidates) {
    const body = await collectStream(await storage.get(candidate.key), { limit: MAX_KEY_OBJECT });
    let text: string;
    try {
      text = ageDecrypt(body, keys).toString("utf8");
    } catch (err) {
      if (err instanceof AgeError) continue;
      throw err;
    }
    try {
      const key = parseKey(text, `key object ${candidate.key}`);
      if (key.kind !== "master") throw new KeyFormatError(`key object ${candidate.key} holds a ${key.kind} key, not a master key`);
      // A key object of another master key (left by a creator that lost the race to write the config) is passed
      // over; when no object's key fits, the first that opened is returned for the caller's precise refusal.
      if (fits(key)) return { key, opened: candidate.id };
      misfit ??= { key, opened: candidate.id };
    } catch (err) {
      if (err instanceof KeyFormatError) throw new StorageError("INTEGRITY", err.message, { key: candidate.key, transient: false });
      throw err;
    }
  }
  if (misfit) return misfit;
  throw new BackupError("KEY_REJECTED", `${what} opens none of the ${candidates.length} key object(s) of ${where}`);
}
