import { copyFile, lstat, mkdir, rm } from "node:fs/promises";
import type { Stats } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { encodeName, fsPath } from "../fsNames.js";
import { readEntryXattrs, type ReadXattrs } from "../xattrs/xattrs.js";

/** A staging copy of a file taken out of a snapshot. */
export interface StagedFile {
  path: string;
  /** The snapshot file's metadata, recorded instead of the copy's. */
  stats: Stats;
  /** The snapshot file's extended attributes (the copy has none). */
  xattrs: ReadXattrs;
}

/**
 * Staging copies: files up to MaximumFileSizeForStagingCopy are copied out of their snapshot so that the snapshot
 * can be released before the (possibly slow) upload. The total staged at once is bounded (4 × the per-file limit);
 * past it files are uploaded straight from the snapshot.
 */
export class StagingArea {
  readonly #dir: string;
  readonly #maxFile: number;
  #bytes = 0;
  staged = 0;

  constructor(directory: string, maxFileSize: number) {
    this.#dir = directory;
    this.#maxFile = maxFileSize;
  }

  /** Copies `source` if it qualifies; `undefined` when it is uploaded from the snapshot instead. */
  async stage(source: string): Promise<StagedFile | undefined> {
    const stats = await lstat(fsPath(source));
    if (!stats.isFile() || stats.size > this.#maxFile || this.#bytes + stats.size > 4 * this.#maxFile) return undefined;
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const path = join(this.#dir, `${randomBytes(8).toString("hex")}.stage`);
    this.#bytes += stats.size;
    try {
      await copyFile(fsPath(source), path);
    } catch (err) {
      this.#bytes -= stats.size;
      await rm(path, { force: true });
      throw err;
    }
    this.staged++;
    return { path, stats, xattrs: await readEntryXattrs(encodeName(source)) };
  }

  /** Removes a staging copy once its upload is done (or failed). */
  async discard(file: StagedFile): Promise<void> {
    this.#bytes -= file.stats.size;
    await rm(file.path, { force: true });
  }
}
