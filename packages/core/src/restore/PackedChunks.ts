import { openBlob } from "../repository/v2/pack.js";
import { packKey, type StoredBlob } from "../repository/v2/PackStore.js";
import { readBlobV2, type BlobLocations } from "../repository/v2/readTreeV2.js";
import type { RepositoryV2 } from "../repository/v2/RepositoryV2.js";

/** Blobs of one pack close enough together to be fetched by one ranged read. */
interface Run {
  readonly pack: string;
  readonly start: number;
  end: number;
  readonly ids: string[];
  /** The run's verified blobs once fetched (a blob that did not verify is absent: its own read names the damage). */
  data?: Promise<Map<string, Buffer>> | undefined;
  /** Dropped to keep memory bounded: its blobs left are read one by one. */
  evicted?: boolean;
}

/** Blobs closer than this are fetched together (the bytes between are read and dropped). */
const GAP_BYTES = 64 * 1024;
/** No run is longer than this. */
const RUN_BYTES = 8 * 1024 * 1024;
/** Fetched runs held at once, in bytes; beyond it the least recently fetched is dropped. */
const HELD_BYTES = 128 * 1024 * 1024;

/**
 * The content of a v2 tree for a restore that knows what it will read ({@link plan}): the blobs it needs are grouped
 * by pack into runs of neighbours, and the first blob asked of a run fetches the whole run with one ranged read
 * (instead of one read per blob: one GET per small file is what makes an object store slow). Every blob is still
 * verified on its own. Fetched runs are held only until their blobs are taken, within {@link HELD_BYTES}; a blob
 * that was not planned, or whose run was dropped, is read on its own.
 */
export class PackedChunks {
  readonly #repo: RepositoryV2;
  readonly #blobs: BlobLocations;
  readonly #runOf = new Map<string, Run>();
  readonly #uses = new Map<string, number>();
  readonly #held: Run[] = [];
  #heldBytes = 0;

  constructor(repo: RepositoryV2, blobs: BlobLocations) {
    this.#repo = repo;
    this.#blobs = blobs;
  }

  /** Plans the reads of these blob ids (in any order, repeats counted: a blob two files share is taken twice). */
  plan(ids: Iterable<string>): void {
    const byPack = new Map<string, StoredBlob[]>();
    for (const id of ids) {
      const uses = this.#uses.get(id) ?? 0;
      this.#uses.set(id, uses + 1);
      const blob = this.#blobs.get(id);
      if (uses > 0 || !blob || this.#runOf.has(id)) continue;
      const list = byPack.get(blob.pack) ?? [];
      list.push(blob);
      byPack.set(blob.pack, list);
    }
    for (const [pack, blobs] of byPack) {
      let run: Run | undefined;
      for (const b of blobs.sort((x, y) => x.offset - y.offset)) {
        const end = b.offset + b.length;
        if (run && b.offset - run.end <= GAP_BYTES && end - run.start <= RUN_BYTES) {
          run.ids.push(b.id);
          run.end = Math.max(run.end, end);
        } else run = { pack, start: b.offset, end, ids: [b.id] };
        this.#runOf.set(b.id, run);
      }
    }
  }

  /** One blob's bytes, verified. */
  async getChunk(id: string): Promise<Buffer> {
    const run = this.#runOf.get(id);
    if (!run || run.evicted) return readBlobV2(this.#repo, { blobs: this.#blobs }, id);
    run.data ??= this.#fetch(run);
    let got: Map<string, Buffer>;
    try {
      got = await run.data;
    } catch (err) {
      run.data = undefined; // the next attempt fetches again
      throw err;
    }
    const data = got.get(id);
    if (!data) return readBlobV2(this.#repo, { blobs: this.#blobs }, id);
    const left = (this.#uses.get(id) ?? 1) - 1;
    this.#uses.set(id, left);
    if (left <= 0) {
      // Taken as often as planned: forgotten, so a restore planned piece by piece holds only the pieces' blobs.
      got.delete(id);
      this.#uses.delete(id);
      this.#runOf.delete(id);
    }
    if (got.size === 0) this.#release(run);
    return data;
  }

  async #fetch(run: Run): Promise<Map<string, Buffer>> {
    const key = this.#repo.prefix + packKey(run.pack);
    const blobs = run.ids.map((id) => this.#blobs.get(id)!).sort((a, b) => a.offset - b.offset);
    const repo = this.#repo;
    // A sealed pack is read as its plain bytes (the age chunks that cover the run, each authenticated).
    const stream = repo.cipher.encrypted
      ? [await repo.packs.readPlain(run.pack, run.start, run.end)]
      : await repo.storage.get(key, { start: run.start, end: run.end - 1 });
    const stored = await cutBlobs(stream, run, blobs);
    const out = new Map<string, Buffer>();
    for (const blob of blobs) {
      const bytes = stored.get(blob.id);
      if (!bytes) continue; // the stream ended short: its own read names what is wrong
      try {
        out.set(blob.id, openBlob(blob, bytes, repo.cipher.blobId));
      } catch {
        // left out: its own read reports the damage, naming the pack
      }
    }
    const length = run.end - run.start;
    this.#held.push(run);
    this.#heldBytes += length;
    while (this.#heldBytes > HELD_BYTES && this.#held.length > 1) {
      const oldest = this.#held[0]!;
      oldest.evicted = true;
      this.#release(oldest);
    }
    return out;
  }

  #release(run: Run): void {
    const at = this.#held.indexOf(run);
    if (at < 0) return;
    this.#held.splice(at, 1);
    this.#heldBytes -= run.end - run.start;
    run.data = Promise.resolve(new Map());
  }
}

/**
 * The stored bytes of each blob of a run, cut from the ranged read as it arrives: a blob that lies inside one chunk
 * of the stream is a view of it, any other is copied once into a buffer of its own size. Never one buffer for the
 * whole run: joining 8 MiB runs cost a copy of every byte and a page fault on every fresh page (a third of a large
 * restore's CPU here). A stream longer than the run is cut off; one that ends short leaves its last blobs out.
 */
async function cutBlobs(stream: AsyncIterable<unknown> | Iterable<unknown>, run: Run, blobs: readonly StoredBlob[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  let pos = run.start;
  let i = 0;
  let partial: Buffer | undefined;
  for await (const item of stream) {
    const chunk = Buffer.isBuffer(item) ? item : Buffer.from(item as Uint8Array);
    const chunkEnd = pos + chunk.length;
    while (i < blobs.length) {
      const b = blobs[i]!;
      const end = b.offset + b.length;
      if (b.offset >= chunkEnd) break;
      if (!partial && b.offset >= pos && end <= chunkEnd) {
        out.set(b.id, chunk.subarray(b.offset - pos, end - pos));
        i++;
        continue;
      }
      partial ??= Buffer.allocUnsafe(b.length);
      const from = Math.max(b.offset, pos);
      const to = Math.min(end, chunkEnd);
      chunk.copy(partial, from - b.offset, from - pos, to - pos);
      if (to < end) break;
      out.set(b.id, partial);
      partial = undefined;
      i++;
    }
    pos = chunkEnd;
    if (pos >= run.end || i >= blobs.length) {
      (stream as { destroy?: () => void }).destroy?.();
      break;
    }
  }
  return out;
}
