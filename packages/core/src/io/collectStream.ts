/** Options of {@link collectStream}. */
export interface CollectOptions {
  /** Most bytes to hold. Past it the stream is destroyed and `tooLarge` thrown. Default: no limit. */
  readonly limit?: number;
  /** The error thrown past `limit`, given the bytes seen so far. Default: a RangeError naming the limit. */
  readonly tooLarge?: (seen: number) => Error;
}

/**
 * Reads a whole stream into one buffer (Buffers, Uint8Arrays or strings as UTF-8). Never holds more than `limit`
 * bytes: a stream that goes past it is destroyed and the read fails, so a hostile or broken source cannot fill
 * memory. The one place the project collects a stream (small objects: index batches, config, bodies in tests).
 */
export async function collectStream(stream: AsyncIterable<unknown>, options: CollectOptions = {}): Promise<Buffer> {
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const parts: Buffer[] = [];
  let seen = 0;
  for await (const chunk of stream) {
    const part = Buffer.isBuffer(chunk) ? chunk : typeof chunk === "string" ? Buffer.from(chunk, "utf8") : Buffer.from(chunk as Uint8Array);
    seen += part.length;
    if (seen > limit) {
      (stream as { destroy?: () => void }).destroy?.();
      throw options.tooLarge?.(seen) ?? new RangeError(`the stream is larger than ${limit} bytes`);
    }
    parts.push(part);
  }
  // One chunk (a ranged read in one go) is returned as it is: no copy.
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, seen);
}
