import type { FileEntry, IndexRecord } from "../../types.js";
import { applyRecord } from "../format.js";
import type { StoredBlob } from "./PackStore.js";

/** One lane batch's body, as `RepositoryV2.readBatch` gives it. */
export interface BatchBody {
  readonly prev: string | null;
  readonly blobs: readonly StoredBlob[];
  readonly records: readonly IndexRecord[];
}

/** Where batch bodies wait between being read (their lane checked) and being applied (in merge order). */
export interface BatchBodies {
  set(key: string, body: BatchBody): unknown;
  get(key: string): BatchBody | undefined;
  delete(key: string): unknown;
}

/**
 * Where a merged tree is built (`mergeTreeV2`): in memory ({@link MapTree}) or in a scratch store on disk
 * (`TreeSpill`), which holds a tree of any size in little memory. Both give the same tree from the same records.
 */
export interface TreeSink {
  /** Runs `writes` as one unit (one transaction of a store on disk). */
  write(writes: () => void): void;
  /** Records where a blob is, unless it is located already (the first location in apply order is kept). */
  locate(blob: StoredBlob): void;
  /** Sets one entry (a checkpoint's). */
  put(entry: FileEntry): void;
  /** Applies one record with {@link applyRecord}'s rules. */
  apply(record: IndexRecord): void;
  /** Forgets every entry and blob (a checkpoint that failed half-way through). */
  clear(): void;
  /** Batch bodies read ahead of their turn. */
  readonly bodies: BatchBodies;
  /** Every entry (in no promised order). */
  entryList(): Iterable<FileEntry>;
  /** Where a blob is, if located. */
  blob(id: string): StoredBlob | undefined;
}

/** A tree built in memory: the entries and blobs as Maps (about 300 bytes an entry). */
export class MapTree implements TreeSink {
  readonly entries = new Map<string, FileEntry>();
  readonly blobs = new Map<string, StoredBlob>();
  readonly bodies = new Map<string, BatchBody>();

  write(writes: () => void): void {
    writes();
  }

  locate(blob: StoredBlob): void {
    if (!this.blobs.has(blob.id)) this.blobs.set(blob.id, blob);
  }

  put(entry: FileEntry): void {
    this.entries.set(entry.path, entry);
  }

  apply(record: IndexRecord): void {
    applyRecord(this.entries, record);
  }

  clear(): void {
    this.entries.clear();
    this.blobs.clear();
  }

  entryList(): Iterable<FileEntry> {
    return this.entries.values();
  }

  blob(id: string): StoredBlob | undefined {
    return this.blobs.get(id);
  }
}

/** Files whose content the index cannot give: a blob no batch locates, or blobs that do not add up to the size. */
export function brokenEntries(tree: Pick<TreeSink, "entryList" | "blob">): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  for (const entry of tree.entryList()) {
    if (entry.type !== "file") continue;
    let size = 0;
    let missing: string | undefined;
    for (const id of entry.chunks) {
      const b = tree.blob(id);
      if (!b) {
        missing = id;
        break;
      }
      size += b.size;
    }
    if (missing) out.push({ path: entry.path, message: `${entry.path} names blob ${missing}, which no batch locates` });
    else if (size !== entry.size) out.push({ path: entry.path, message: `${entry.path}: its blobs hold ${size} bytes, the index says ${entry.size}` });
  }
  return out;
}
