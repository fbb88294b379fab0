import type { StorageBackend } from "../storage/StorageBackend.js";
import { Repository, UnsupportedVersionError } from "./Repository.js";
import { RepositoryV2 } from "./v2/RepositoryV2.js";

/** A repository of either format: v1 (docs/format.md) or v2 (docs/format-v2.md). */
export type AnyRepository = Repository | RepositoryV2;

/** The formats a new repository may be created in. */
export type RepositoryFormat = 1 | 2;

/** Options of {@link openRepository}. */
export interface OpenAnyOptions {
  /** Key prefix inside the store (`hosts/alpha/`); a trailing `/` is added when missing. */
  prefix?: string;
  /** Create the repository when there is none: in this format (v1 with this chunk size). */
  create?: { format: RepositoryFormat; chunkSize: number };
}

/**
 * Opens the repository under `prefix`, whichever format its config names (or creates one, with `create`). A v1
 * reader is tried first; a config of version 2 is opened as v2.
 */
export async function openRepository(storage: StorageBackend, options: OpenAnyOptions = {}): Promise<AnyRepository> {
  let prefix = options.prefix ?? "";
  if (prefix !== "" && !prefix.endsWith("/")) prefix += "/";
  const create = options.create;
  if (create?.format === 2 && !(await storage.head(`${prefix}config`))) return RepositoryV2.create(storage, { prefix });
  try {
    return await Repository.open(storage, { prefix, ...(create ? { create: { chunkSize: create.chunkSize } } : {}) });
  } catch (err) {
    if (!(err instanceof UnsupportedVersionError) || err.version !== 2) throw err;
    return RepositoryV2.open(storage, { prefix });
  }
}

/** Whether `repo` is a format v2 repository. */
export function isV2(repo: AnyRepository): repo is RepositoryV2 {
  return repo instanceof RepositoryV2;
}
