import { StorageError, type StorageBackend } from "@rtbackup/core";

/** A deterministic PRNG so a failing run can be replayed. */
export function seeded(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** Wraps a backend so that a fraction of operations fail (transiently) while `enabled` is true. */
export function flaky(backend: StorageBackend, rate: number, random: () => number, counter: { failures: number; enabled: boolean }): StorageBackend {
  const maybeFail = (op: string, key: string) => {
    if (counter.enabled && random() < rate) {
      counter.failures++;
      throw new StorageError("STORAGE_FAILED", `injected failure: ${op} ${key}`, { key, transient: true });
    }
  };
  return {
    description: `flaky(${backend.description})`,
    async put(key, body, size) {
      maybeFail("put", key);
      await backend.put(key, body, size);
      // A failure after the write: the object exists but the caller is told it failed.
      maybeFail("put-after", key);
    },
    async get(key, range) {
      maybeFail("get", key);
      return backend.get(key, range);
    },
    async head(key) {
      maybeFail("head", key);
      return backend.head(key);
    },
    async *list(prefix) {
      maybeFail("list", prefix);
      yield* backend.list(prefix);
    },
    async delete(key) {
      maybeFail("delete", key);
      return backend.delete(key);
    },
    async sync() {
      maybeFail("sync", "");
      await backend.sync?.();
    },
  };
}
