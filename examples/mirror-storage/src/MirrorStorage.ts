import type { Readable } from "node:stream";
import { StorageError, type Body, type ByteRange, type ObjectInfo, type StorageBackend } from "@rtbackup/core";

/**
 * A {@link StorageBackend} that writes every object to all of its backends and reads from the first that has it.
 * A put resolves once every copy is stored (and fails if any copy fails, so the pipeline retries it); a delete
 * removes every copy; a listing is the union of all listings, still in ascending key order. With the off-site
 * store first and an on-site directory second, reads go off-site only when the local copy is missing.
 */
export class MirrorStorage implements StorageBackend {
  readonly description: string;
  readonly backends: readonly StorageBackend[];

  constructor(backends: readonly StorageBackend[]) {
    if (backends.length === 0) throw new TypeError("MirrorStorage needs at least one backend");
    this.backends = [...backends];
    this.description = `mirror(${backends.map((b) => b.description).join(", ")})`;
  }

  async put(key: string, body: Body, size: number): Promise<void> {
    // A stream body is a factory, so each backend opens its own fresh stream.
    await settleAll(this.backends.map((b) => b.put(key, body, size)));
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    let notFound: unknown;
    for (const backend of this.backends) {
      try {
        return await backend.get(key, range);
      } catch (err) {
        if (!(err instanceof StorageError && err.code === "STORAGE_NOT_FOUND")) throw err;
        notFound ??= err;
      }
    }
    throw notFound;
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    for (const backend of this.backends) {
      const info = await backend.head(key);
      if (info) return info;
    }
    return undefined;
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const iterators = this.backends.map((b) => b.list(prefix)[Symbol.asyncIterator]());
    const heads = await Promise.all(iterators.map((it) => it.next()));
    for (;;) {
      let smallest: string | undefined;
      let info: ObjectInfo | undefined;
      for (const h of heads) {
        if (h.done) continue;
        if (smallest === undefined || compareKeys(h.value.key, smallest) < 0) {
          smallest = h.value.key;
          info = h.value;
        }
      }
      if (smallest === undefined || info === undefined) return;
      yield info;
      // Advance every listing that is at this key, so a key held by several backends is listed once.
      await Promise.all(
        heads.map(async (h, i) => {
          if (!h.done && h.value.key === smallest) heads[i] = await iterators[i]!.next();
        }),
      );
    }
  }

  async delete(key: string): Promise<void> {
    await settleAll(this.backends.map((b) => b.delete(key)));
  }

  async sync(): Promise<void> {
    await settleAll(this.backends.map((b) => b.sync?.()));
  }

  async close(): Promise<void> {
    await settleAll(this.backends.map((b) => b.close?.()));
  }
}

/** Waits for every operation (so none is left running), then throws the first failure. */
async function settleAll(operations: Array<Promise<unknown> | undefined>): Promise<void> {
  const results = await Promise.allSettled(operations);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

/** Byte order of the UTF-8 encodings, as the storage contract lists keys. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
