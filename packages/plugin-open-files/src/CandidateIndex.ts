import { statSync } from "node:fs";
import { fsPath } from "@rtbackup/core";
import { TimeSlicer } from "./TimeSlicer.js";

/** One file (device + inode) among the candidates, and every candidate path that names it. */
export interface CandidateFile {
  /** Exact device number. */
  readonly dev: bigint;
  /** Exact inode number. */
  readonly ino: bigint;
  /** The candidate paths, as given, that resolve to this file (hard links, symlinks, bind mounts). */
  readonly paths: string[];
  /** True when `dev` or `ino` cannot be represented exactly as a JS number. */
  readonly needsExactCheck: boolean;
}

/**
 * The candidate paths of one check, indexed by device and inode so that open files are matched by identity, not by
 * path string: a file opened through a symlink, a hard link, a bind mount or another mount namespace still matches.
 * Candidates that do not exist (or cannot be stat'ed) are left out: they cannot be open for writing.
 */
export class CandidateIndex {
  #files: readonly CandidateFile[] = [];
  #existingPaths: readonly string[] = [];
  #missing = 0;
  readonly #byNumber = new Map<number, Map<number, CandidateFile>>();
  readonly #byExact = new Map<string, CandidateFile>();
  readonly #byPath = new Map<string, CandidateFile>();

  private constructor() {}

  /**
   * Stats every candidate path once. Synchronous in time slices (see {@link TimeSlicer}): the list is as long as
   * the caller asked for, and on a FUSE filesystem each stat may be a round trip to its daemon.
   */
  static async build(paths: readonly string[], slicer: TimeSlicer = new TimeSlicer(2)): Promise<CandidateIndex> {
    const index = new CandidateIndex();
    await index.#add(paths, slicer);
    return index;
  }

  async #add(paths: readonly string[], slicer: TimeSlicer): Promise<void> {
    const files: CandidateFile[] = [];
    const existing: string[] = [];
    const seen = new Set<string>();
    let missing = 0;
    for (const path of paths) {
      if (slicer.due()) await slicer.yield();
      if (seen.has(path)) continue;
      seen.add(path);
      let st;
      try {
        // stat (not lstat): a candidate that is a symlink stands for the file it points to.
        st = statSync(fsPath(path), { bigint: true, throwIfNoEntry: false });
      } catch {
        st = undefined;
      }
      if (!st) {
        missing++;
        continue;
      }
      existing.push(path);
      const key = `${st.dev}:${st.ino}`;
      const known = this.#byExact.get(key);
      if (known) {
        known.paths.push(path);
        this.#byPath.set(path, known);
        continue;
      }
      const file: CandidateFile = {
        dev: st.dev,
        ino: st.ino,
        paths: [path],
        needsExactCheck: st.dev > BigInt(Number.MAX_SAFE_INTEGER) || st.ino > BigInt(Number.MAX_SAFE_INTEGER),
      };
      files.push(file);
      this.#byExact.set(key, file);
      this.#byPath.set(path, file);
      const dev = Number(st.dev);
      let inodes = this.#byNumber.get(dev);
      if (!inodes) this.#byNumber.set(dev, (inodes = new Map()));
      inodes.set(Number(st.ino), file);
    }
    this.#files = files;
    this.#existingPaths = existing;
    this.#missing = missing;
  }

  /** Distinct files among the candidates. */
  get files(): readonly CandidateFile[] {
    return this.#files;
  }

  /** The candidate paths that exist, in the order given (duplicates removed). */
  get existingPaths(): readonly string[] {
    return this.#existingPaths;
  }

  /** Candidate paths that could not be stat'ed (vanished, or never existed). */
  get missing(): number {
    return this.#missing;
  }

  /** Number of distinct candidate files. */
  get size(): number {
    return this.#files.length;
  }

  /**
   * The candidate with this device and inode as reported by a number-valued stat. Numbers above 2^53 lose
   * precision, so a hit on a candidate with `needsExactCheck` must be confirmed with {@link matchExact}.
   */
  match(dev: number, ino: number): CandidateFile | undefined {
    return this.#byNumber.get(dev)?.get(ino);
  }

  /** The candidate with exactly this device and inode. */
  matchExact(dev: bigint, ino: bigint): CandidateFile | undefined {
    return this.#byExact.get(`${dev}:${ino}`);
  }

  /** The candidate file a candidate path (exactly as given) resolved to. */
  byPath(path: string): CandidateFile | undefined {
    return this.#byPath.get(path);
  }
}
