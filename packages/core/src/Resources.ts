import { rm } from "node:fs/promises";
import type { Parameters } from "./config/Parameters.js";
import type { Logger } from "./logger.js";
import { isV2, openRepository, type AnyRepository } from "./repository/openRepository.js";
import { keySourceOf } from "./repository/v2/keySource.js";
import { syncWriterLane } from "./repository/v2/syncWriterLane.js";
import { syncStateCache, type SyncResult } from "./repository/syncState.js";
import { syncLaneState } from "./repository/v2/syncLaneState.js";
import type { Lock } from "./state/lock.js";
import { StateCache } from "./state/StateCache.js";
import type { StorageBackend } from "./storage/StorageBackend.js";

/**
 * What `engine.start()` opened, in order, and closes in reverse: the instance lock, the storage backend, the
 * repository (created when absent), and the state cache, synced with the remote index. Nothing is half-open: when
 * a step fails, what the earlier ones opened is closed again.
 */
export class Resources {
  readonly storage: StorageBackend;
  readonly repository: AnyRepository;
  readonly cache: StateCache;
  /** What the start-up sync of the state cache with the index found. */
  readonly sync: SyncResult;
  readonly #lock: Lock;

  private constructor(storage: StorageBackend, repository: AnyRepository, cache: StateCache, sync: SyncResult, lock: Lock) {
    this.storage = storage;
    this.repository = repository;
    this.cache = cache;
    this.sync = sync;
    this.#lock = lock;
  }

  /** Opens everything after the lock (which it owns from now on, and releases on failure). */
  static async open(parameters: Parameters, resolveStorage: () => StorageBackend, lock: Lock, log: Logger): Promise<Resources> {
    let cache: StateCache | undefined;
    let storage: StorageBackend | undefined;
    try {
      storage = resolveStorage();
      const keys = await keySourceOf({ keyFile: parameters.encryptionKeyFile, passphraseFile: parameters.encryptionPassphraseFile, env: process.env });
      const repository = await openRepository(storage, {
        prefix: parameters.repositoryPrefix,
        create: { format: parameters.repositoryFormat, chunkSize: parameters.chunkSize },
        ...(keys ? { keys } : {}),
      });
      // Staging copies left by a crash are stale: their files go through the pipeline again.
      await rm(parameters.stagingDirectory, { recursive: true, force: true }).catch(() => undefined);
      cache = await StateCache.open(parameters.remoteFileStateCachePath);
      if (cache.discarded) log.warn(`state cache: ${cache.discarded}`);
      const sync = !isV2(repository)
        ? await syncStateCache(repository, cache, log)
        : repository.cipher.canRead
          ? await syncLaneState(repository, cache, log)
          : await syncWriterLane(repository, cache, log);
      return new Resources(storage, repository, cache, sync, lock);
    } catch (err) {
      await cache?.close();
      await storage?.close?.().catch(() => undefined);
      await lock.release();
      throw err;
    }
  }

  /** Closes the state cache and the storage, then releases the lock. */
  async close(): Promise<void> {
    try {
      await this.cache.close();
      await this.storage.close?.();
    } finally {
      await this.#lock.release();
    }
  }
}
