import { BackupError, RepositoryExistsError } from "../errors.js";
import { recipientOf } from "../crypto/age.js";
import { processSecrets } from "../secrets/SecretRegistry.js";
import type { StorageBackend } from "../storage/StorageBackend.js";
import { Repository, UnsupportedVersionError } from "./Repository.js";
import type { KeySource, KeyWrap } from "./v2/keyObjects.js";
import { RepositoryV2 } from "./v2/RepositoryV2.js";

/** A repository of either format: v1 (docs/format.md) or v2 (docs/format-v2.md). */
export type AnyRepository = Repository | RepositoryV2;

/** The formats a new repository may be created in. */
export type RepositoryFormat = 1 | 2;

/** Options of {@link openRepository}. */
export interface OpenAnyOptions {
  /** Key prefix inside the store (`hosts/alpha/`); a trailing `/` is added when missing. */
  prefix?: string;
  /**
   * Create the repository when there is none: in this format (v1 with this chunk size). With `keys`, a v2 repository
   * is created encrypted, its first key wrapped by the passphrase or the identity file's recipient.
   */
  create?: { format: RepositoryFormat; chunkSize: number };
  /**
   * The key of an encrypted repository (docs/encryption.md). When given, a repository that is not encrypted is
   * refused: a config that says "none" where a key was expected is a store that was replaced or downgraded.
   */
  keys?: KeySource;
}

/**
 * Opens the repository under `prefix`, whichever format its config names (or creates one, with `create`). A v1
 * reader is tried first; a config of version 2 is opened as v2.
 */
export async function openRepository(storage: StorageBackend, options: OpenAnyOptions = {}): Promise<AnyRepository> {
  let prefix = options.prefix ?? "";
  if (prefix !== "" && !prefix.endsWith("/")) prefix += "/";
  const { create, keys } = options;
  const encrypted = keys !== undefined && (keys.keyFile !== undefined || keys.passphrase !== undefined);
  const where = `the repository at ${storage.description}${prefix ? ` (prefix ${prefix})` : ""}`;
  if (create && !(await storage.head(`${prefix}config`))) {
    if (create.format === 2) {
      // Another process may create it between the look and the write (two agents started on one new store): then
      // its repository is the one opened below.
      const made = await RepositoryV2.create(storage, { prefix, ...(encrypted ? { encryption: await wrapFor(keys, where) } : {}) }).catch((err) => {
        if (err instanceof RepositoryExistsError) return undefined;
        throw err;
      });
      if (made) return made;
    } else if (encrypted) throw new BackupError("REPOSITORY_INVALID", `${where} would be format 1, which has no encryption: use RepositoryFormat 2`);
  }
  let repo: AnyRepository;
  try {
    repo = await Repository.open(storage, { prefix, ...(create ? { create: { chunkSize: create.chunkSize } } : {}) });
  } catch (err) {
    if (!(err instanceof UnsupportedVersionError) || err.version !== 2) throw err;
    repo = await RepositoryV2.open(storage, { prefix, ...(keys ? { keys } : {}) });
  }
  if (encrypted && (!isV2(repo) || !repo.cipher.encrypted)) {
    throw new BackupError(
      "KEY_REJECTED",
      `${where} is not encrypted, but a key was given: refusing to use it (was the store's config replaced? to use a plain repository, give no key)`,
    );
  }
  return repo;
}

/** How the first key of a repository created with `keys` is wrapped. */
async function wrapFor(keys: KeySource, where: string): Promise<KeyWrap> {
  if (keys.keyFile) {
    const identity = keys.keyFile.text.split(/\r?\n/).find((l) => l.trim().startsWith("AGE-SECRET-KEY-1"));
    if (identity) return { recipient: recipientOf(identity.trim()) };
    throw new BackupError(
      "KEY_MISSING",
      `there is no repository at ${where.slice("the repository at ".length)}, and a repository key file cannot create one: run "rtb init --encryption" with a passphrase or an age identity file`,
    );
  }
  const passphrase = await keys.passphrase!();
  processSecrets.add(passphrase);
  return { passphrase };
}

/** Whether `repo` is a format v2 repository. */
export function isV2(repo: AnyRepository): repo is RepositoryV2 {
  return repo instanceof RepositoryV2;
}
