import { createHash } from "node:crypto";
import { BackupError, StorageError } from "../../errors.js";
import { AgeError, AgeRanges, ageDecrypt, ageEncrypt, ageEncryptTo } from "../../crypto/age.js";
import { keyedHashes, type RepositoryKey } from "../../crypto/repositoryKey.js";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/**
 * How a v2 repository names and seals what it stores (docs/encryption.md). Without encryption, ids and digests are
 * SHA-256 and objects are stored as they are. With it, ids and digests are HMAC-SHA-256 under the repository secret
 * and every object is an age file to the repository's recipient; only a master key opens them.
 */
export interface ObjectCipher {
  /** Whether objects are sealed. */
  readonly encrypted: boolean;
  /** Whether this process can open sealed objects (false for a writer key). */
  readonly canRead: boolean;
  /** A blob's id from its uncompressed bytes. */
  blobId(raw: Uint8Array): string;
  /** An index object's digest (in its key) from its plain bytes. */
  digest(body: Uint8Array): string;
  /** The stored form of an object's plain bytes. */
  seal(body: Uint8Array): Buffer;
  /** Seals a pack from its parts, chunk by chunk (none when objects are not sealed). */
  readonly sealParts?: (parts: readonly Uint8Array[], size: number, out: (bytes: Uint8Array) => void) => void;
  /** An object's plain bytes from its stored form; `key` names it in the error. */
  open(stored: Buffer, key: string): Buffer;
  /** Ranged reads of a sealed object from its first bytes; undefined when more bytes are needed. */
  ranges(prefix: Buffer, size: number, key: string): AgeRanges | undefined;
}

/** A repository without encryption. */
export const PLAIN: ObjectCipher = {
  encrypted: false,
  canRead: true,
  blobId: sha256,
  digest: sha256,
  seal: (body) => Buffer.from(body.buffer, body.byteOffset, body.byteLength),
  open: (stored) => stored,
  ranges: () => {
    throw new Error("a plain repository has no sealed objects");
  },
};

/** The error an object that does not open is: damage (or forgery) that names it. */
function damaged(key: string, err: unknown): never {
  if (!(err instanceof AgeError)) throw err;
  throw new StorageError("INTEGRITY", `object ${key} does not decrypt: ${err.message}`, { key, transient: false });
}

/** A repository encrypted under `key` (a writer key seals and names, never opens). */
export function ageCipher(key: RepositoryKey): ObjectCipher {
  const hashes = keyedHashes(key);
  const to = { recipients: [key.recipient] };
  const identity = key.identity;
  const needIdentity = (what: string): never => {
    throw new BackupError("KEY_MISSING", `${what} is encrypted and this process holds a writer key only: reading it needs the repository's master key`);
  };
  return {
    encrypted: true,
    canRead: identity !== undefined,
    blobId: hashes.blobId,
    digest: hashes.digest,
    seal: (body) => ageEncrypt(body, to),
    sealParts: (parts, size, out) => ageEncryptTo(parts, size, to, out),
    open(stored, what) {
      if (!identity) return needIdentity(what);
      try {
        return ageDecrypt(stored, { identities: [identity] });
      } catch (err) {
        return damaged(what, err);
      }
    },
    ranges(prefix, size, what) {
      if (!identity) return needIdentity(what);
      try {
        return AgeRanges.open(prefix, size, { identities: [identity] });
      } catch (err) {
        return damaged(what, err);
      }
    },
  };
}

/** Runs `fn` (a read of sealed bytes); an AgeError becomes the INTEGRITY error that names `key`. */
export function opening<T>(key: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    return damaged(key, err);
  }
}
