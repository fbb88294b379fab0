import { collectStream } from "../io/collectStream.js";
import type { StorageBackend } from "../storage/StorageBackend.js";

/**
 * Writes a new repository's config unless another process wrote one first; resolves whether ours is the config.
 * Where the backend can create an object only if it is absent (`putNew`), that decides. Elsewhere the config is
 * written and read back: a config that is not ours was written after it, by a creator that reads its own back and
 * goes on, so ours gives way. One race is left there (docs/format-v2.md): a creator that looked before the other
 * wrote, but writes only after the other has read its config back.
 */
export async function putConfig(storage: StorageBackend, key: string, body: Buffer): Promise<boolean> {
  if (storage.putNew) {
    const stored = await storage.putNew(key, body, body.length);
    await storage.sync?.();
    return stored;
  }
  await storage.put(key, body, body.length);
  await storage.sync?.();
  const back = await collectStream(await storage.get(key), { limit: 1 << 20 });
  return back.equals(body);
}
