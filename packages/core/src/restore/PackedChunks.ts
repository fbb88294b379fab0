import { collectStream } from "../io/collectStream.js";
import { openBlob } from "../repository/v2/pack.js";
import { packKey, type StoredBlob } from "../repository/v2/PackStore.js";
import { readBlobV2 } from "../repository/v2/readTreeV2.js";
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
  readonly #blobs: ReadonlyMap<string, StoredBlob>;
  readonly #runOf = new Map<string, Run>();
  readonly #uses = new Map<string, number>();
  readonly #held: Run[] = [];
  #heldBytes = 0;

  constructor(repo: RepositoryV2, blobs: ReadonlyMap<string, StoredBlob>) {
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
    if (left <= 0) got.delete(id);
    if (got.size === 0) this.#release(run);
    return data;
  }

  async #fetch(run: Run): Promise<Map<string, Buffer>> {
    const key = this.#repo.prefix + packKey(run.pack);
    const length = run.end - run.start;
    const bytes = await collectStream(await this.#repo.storage.get(key, { start: run.start, end: run.end - 1 }), { limit: length });
    const out = new Map<string, Buffer>();
    if (bytes.length !== length) return out; // every blob is then read on its own, which names what is wrong
    for (const id of run.ids) {
      const blob = this.#blobs.get(id)!;
      try {
        out.set(id, openBlob(blob, bytes.subarray(blob.offset - run.start, blob.offset - run.start + blob.length)));
      } catch {
        // left out: its own read reports the damage, naming the pack
      }
    }
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
