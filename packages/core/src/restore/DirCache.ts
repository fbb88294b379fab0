import { join } from "node:path";
import { encodeName } from "../fsNames.js";
import { OpenDir } from "./OpenDir.js";

interface Slot {
  dir: OpenDir;
  refs: number;
}

/** Idle directory fds kept open by default (the ones in use by running work come on top). */
const DEFAULT_IDLE = 64;

/**
 * The directories below a restore target, opened one level at a time, each relative to its parent's fd (see
 * {@link OpenDir}), so no path is ever re-walked from the root. Directories in use are reference-counted; idle ones
 * are kept for reuse up to a bound and the least recently used are closed beyond it, so a tree with a million
 * directories holds a few dozen fds, not a million. A directory that could not be opened (a symlink, not a
 * directory, an error) is remembered: it and everything below it fail the same way for the rest of the restore.
 * Opening is synchronous, like every directory operation of {@link OpenDir}.
 */
export class DirCache {
  readonly #top: OpenDir;
  readonly #root: string;
  readonly #maxIdle: number;
  /** Key: segments joined by "/" ("" is the target). Map order is least recently used first. */
  readonly #slots = new Map<string, Slot>();
  readonly #failed = new Map<string, unknown>();
  #idle = 0;

  constructor(top: OpenDir, root: string, options: { maxIdle?: number } = {}) {
    this.#top = top;
    this.#root = root;
    this.#maxIdle = options.maxIdle ?? DEFAULT_IDLE;
  }

  /**
   * The open directory at `segments` below the target, creating missing ones (mode 0700). Pair every call with
   * {@link release}. Throws the error of the first directory on the way that could not be opened.
   */
  acquire(segments: readonly string[]): OpenDir {
    if (segments.length === 0) return this.#top;
    const key = segments.join("/");
    const failed = this.#failed.get(key);
    if (failed !== undefined) throw failed;
    let slot = this.#slots.get(key);
    if (slot) {
      if (slot.refs === 0) this.#idle--;
      slot.refs++;
      this.#slots.delete(key);
    } else slot = { dir: this.#open(segments, key), refs: 1 };
    this.#slots.set(key, slot);
    return slot.dir;
  }

  /** Gives back the directory at `segments` from {@link acquire}; idle ones beyond the bound are closed, oldest first. */
  release(segments: readonly string[]): void {
    if (segments.length === 0) return;
    const slot = this.#slots.get(segments.join("/"));
    if (!slot || slot.refs === 0) return;
    slot.refs--;
    if (slot.refs === 0) this.#idle++;
    this.#evict();
  }

  #open(segments: readonly string[], key: string): OpenDir {
    const up = segments.slice(0, -1);
    try {
      const parent = this.acquire(up);
      try {
        return parent.openDir(encodeName(segments.at(-1)!), join(this.#root, ...segments));
      } finally {
        this.release(up);
      }
    } catch (err) {
      this.#failed.set(key, err);
      throw err;
    }
  }

  #evict(): void {
    if (this.#idle <= this.#maxIdle) return;
    for (const [key, slot] of this.#slots) {
      if (this.#idle <= this.#maxIdle) break;
      if (slot.refs !== 0) continue;
      this.#slots.delete(key);
      this.#idle--;
      slot.dir.close();
    }
  }

  /** Closes every fd this cache opened (not the target). */
  closeAll(): void {
    for (const slot of this.#slots.values()) slot.dir.close();
    this.#slots.clear();
    this.#idle = 0;
  }
}
