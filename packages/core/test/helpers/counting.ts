import type { StorageBackend } from "@rtbackup/core";

/** Calls a test saw: puts, gets, ranged gets, and gets of index batches (`/batch/` in the key). */
export interface Calls {
  put: number;
  get: number;
  ranged: number;
  batches: number;
}

/** Wraps a backend so that every put and get is counted in `calls` (the rest passes through). */
export function counting(backend: StorageBackend): { storage: StorageBackend; calls: Calls } {
  const calls: Calls = { put: 0, get: 0, ranged: 0, batches: 0 };
  const storage: StorageBackend = {
    description: backend.description,
    put(key, body, size) {
      calls.put++;
      return backend.put(key, body, size);
    },
    get(key, range) {
      calls.get++;
      if (range) calls.ranged++;
      if (key.includes("/batch/")) calls.batches++;
      return backend.get(key, range);
    },
    head: (key) => backend.head(key),
    list: (prefix) => backend.list(prefix),
    delete: (key) => backend.delete(key),
    sync: () => backend.sync?.() ?? Promise.resolve(),
  };
  return { storage, calls };
}

/** Wraps a backend so that every put's key and size is recorded in `puts` (the rest passes through). */
export function recordPuts(backend: StorageBackend, puts: { key: string; size: number }[]): StorageBackend {
  return {
    description: backend.description,
    put: (key, body, size) => {
      puts.push({ key, size });
      return backend.put(key, body, size);
    },
    get: (key, range) => backend.get(key, range),
    head: (key) => backend.head(key),
    list: (prefix) => backend.list(prefix),
    delete: (key) => backend.delete(key),
    sync: () => backend.sync?.() ?? Promise.resolve(),
  };
}
