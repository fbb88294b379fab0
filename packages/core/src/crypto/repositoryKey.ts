// The keys of an encrypted repository (docs/encryption.md). A repository has one secret of 32 random bytes and one
// X25519 key pair. Every object is an age file encrypted to the pair's recipient; the secret keys the blob ids and
// the index digests (HMAC-SHA-256), so ids reveal nothing about content and an index object nobody with the secret
// wrote is refused. A master key holds the secret and the identity (it reads and writes); a writer key holds the
// secret and the recipient only: it adds to the repository and can decrypt nothing, not even what it wrote.
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { AgeError, generateAgeKeyPair, recipientOf } from "./age.js";

/** A key of one repository: `master` reads and writes, `writer` only writes. */
export interface RepositoryKey {
  readonly kind: "master" | "writer";
  /** The repository's id (its config's `id`). */
  readonly repository: string;
  /** 32 bytes: the root of the keyed ids and index digests. */
  readonly secret: Buffer;
  /** `age1…`: what every object is encrypted to. */
  readonly recipient: string;
  /** `AGE-SECRET-KEY-1…`: decrypts every object. A master key's only. */
  readonly identity?: string;
}

/** The name of the text form of a key (`rtb key export`, a writer key file). */
export const KEY_FORMAT = "rtb-repository-key";

/** A new master key for repository `repository`. */
export function generateMasterKey(repository: string): RepositoryKey {
  const pair = generateAgeKeyPair();
  return { kind: "master", repository, secret: randomBytes(32), recipient: pair.recipient, identity: pair.identity };
}

/** The writer key of a master key: the same secret and recipient, no identity. */
export function writerKeyOf(key: RepositoryKey): RepositoryKey {
  return { kind: "writer", repository: key.repository, secret: key.secret, recipient: key.recipient };
}

/** A subkey of the secret for one use (HKDF-SHA-256, salted with the repository id). */
function subkey(key: RepositoryKey, use: string): Buffer {
  return Buffer.from(hkdfSync("sha256", key.secret, Buffer.from(key.repository, "utf8"), `rtb ${use}`, 32));
}

/** The keyed hashes a key gives: blob ids, index digests and the config's key check. */
export interface KeyedHashes {
  blobId(raw: Uint8Array): string;
  digest(body: Uint8Array): string;
}

/** HMAC-SHA-256 under the key's subkeys (one for blob ids, one for index objects). */
export function keyedHashes(key: RepositoryKey): KeyedHashes {
  const blob = subkey(key, "blob id");
  const index = subkey(key, "index digest");
  return {
    blobId: (raw) => createHmac("sha256", blob).update(raw).digest("hex"),
    digest: (body) => createHmac("sha256", index).update(body).digest("hex"),
  };
}

/**
 * The config's `encryption.check`: an HMAC of the recipient under the secret. A key whose secret or recipient is
 * not this repository's fails it, before anything is written with it.
 */
export function keyCheck(key: RepositoryKey): string {
  return createHmac("sha256", subkey(key, "key check")).update(key.recipient).digest("hex");
}

/** Whether `key` matches the config's check. */
export function keyMatches(key: RepositoryKey, check: string): boolean {
  const want = Buffer.from(check, "hex");
  const got = Buffer.from(keyCheck(key), "hex");
  return want.length === got.length && timingSafeEqual(want, got);
}

/** The text form of a key: one JSON object (what a key object holds, `rtb key export` prints, a key file holds). */
export function encodeKey(key: RepositoryKey, about: { created?: string; host?: string } = {}): string {
  const body: Record<string, unknown> = { format: KEY_FORMAT, kind: key.kind, repository: key.repository, secret: key.secret.toString("base64") };
  if (key.identity) body.identity = key.identity;
  else body.recipient = key.recipient;
  if (about.created) body.created = about.created;
  if (about.host) body.host = about.host;
  return `${JSON.stringify(body, null, 2)}\n`;
}

/** Parses a key's text form; `what` names where it came from in the error. */
export function parseKey(text: string, what: string): RepositoryKey {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new KeyFormatError(`${what} is not a repository key (not JSON)`);
  }
  const bad = (why: string): never => {
    throw new KeyFormatError(`${what} is not a repository key: ${why}`);
  };
  if (typeof v !== "object" || v === null || v.format !== KEY_FORMAT) bad(`"format" is not "${KEY_FORMAT}"`);
  if (v.kind !== "master" && v.kind !== "writer") bad('"kind" is not "master" or "writer"');
  if (typeof v.repository !== "string" || !/^[0-9a-f]{32}$/.test(v.repository)) bad('"repository" is not 32 hex digits');
  const secret = typeof v.secret === "string" ? Buffer.from(v.secret, "base64") : Buffer.alloc(0);
  if (secret.length !== 32 || secret.toString("base64") !== v.secret) bad('"secret" is not 32 bytes in base64');
  const repository = v.repository as string;
  if (v.kind === "master") {
    if (typeof v.identity !== "string") bad('a master key has no "identity"');
    let recipient = "";
    try {
      recipient = recipientOf(v.identity as string);
    } catch (err) {
      bad(`"identity": ${(err as AgeError).message}`);
    }
    return { kind: "master", repository, secret, recipient, identity: v.identity as string };
  }
  if (typeof v.recipient !== "string" || !/^age1[02-9ac-hj-np-z]{58}$/.test(v.recipient)) bad('"recipient" is not an age X25519 recipient (age1…)');
  return { kind: "writer", repository, secret, recipient: v.recipient as string };
}

/** A key's text that is not a key. */
export class KeyFormatError extends Error {
  override readonly name = "KeyFormatError";
}
