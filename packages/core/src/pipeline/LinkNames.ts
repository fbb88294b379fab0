// The other names of a hard-linked file. The kernel reports a write through one name as an event of that name only,
// so the records of its other names would keep the old content until a rescan, and a restore would make them apart.
// Scans note every name of a file with more than one link; when one name is committed with a change, its other
// names still on disk are submitted as changes too. A name the scans have not noted (a link made to a file backed up
// long ago) is found in the state cache, whose entries record their inode.
import { lstatSync } from "node:fs";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { fsPath } from "../fsNames.js";
import { isUnder } from "../mounts/mountPaths.js";
import type { StateCache } from "../state/StateCache.js";

/** Names kept in all; past it, new names are not noted (the next rescan still brings the others up to date). */
const MAX_NAMES = 200_000;
/** Inodes whose names were looked for in the state cache, so a file written again and again is looked up once. */
const MAX_SEARCHED = 10_000;
/** Cache entries read between two turns of the event loop while looking. */
const SEARCH_SLICE = 5_000;

/** Names of files with more than one link, by inode: a hint, every name is checked on disk before it is used. */
export class LinkNames {
  readonly #byInode = new Map<number, Set<string>>();
  readonly #searched = new Set<number>();
  #count = 0;

  constructor(
    private readonly cache: StateCache,
    private readonly roots: readonly string[],
  ) {}

  /** Notes `path` as one name of its inode, when the file has more than one link. */
  note(path: string, stats: { ino: number; nlink: number }): void {
    if (stats.nlink < 2 || this.#count >= MAX_NAMES) return;
    let names = this.#byInode.get(stats.ino);
    if (!names) this.#byInode.set(stats.ino, (names = new Set()));
    if (names.has(path)) return;
    names.add(path);
    this.#count++;
  }

  /**
   * `path` (a live path, just committed with a change) has more than one link: hands each of its other names on disk
   * to `submit`. Names noted, or found in the state cache under the same backup root, count when their lstat shows
   * the same filesystem and inode; names that are no longer links of it are forgotten.
   */
  async changed(path: string, submit: (other: string) => void): Promise<void> {
    const self = lstatSync(fsPath(path), { throwIfNoEntry: false });
    if (!self?.isFile() || self.nlink < 2) return;
    this.note(path, self);
    const names = this.#byInode.get(self.ino);
    if ((names?.size ?? 0) < self.nlink && !this.#searched.has(self.ino) && this.#searched.size < MAX_SEARCHED) {
      this.#searched.add(self.ino);
      await this.#search(path, self);
    }
    for (const other of this.#byInode.get(self.ino) ?? []) {
      if (other === path) continue;
      const st = lstatSync(fsPath(other), { throwIfNoEntry: false });
      if (st && st.dev === self.dev && st.ino === self.ino) submit(other);
      else this.#forget(self.ino, other);
    }
  }

  /** Notes the cached files under `path`'s backup root that recorded the inode `self.ino`. */
  async #search(path: string, self: { ino: number; nlink: number }): Promise<void> {
    const root = this.roots.filter((r) => isUnder(path, r)).sort((a, b) => b.length - a.length)[0];
    if (root === undefined) return;
    let n = 0;
    for (const entry of this.cache.entriesUnder(root)) {
      if (entry.type === "file" && entry.inode === self.ino && entry.path !== path) this.note(entry.path, self);
      if (++n % SEARCH_SLICE === 0) await yieldToLoop();
    }
  }

  #forget(ino: number, path: string): void {
    if (this.#byInode.get(ino)?.delete(path)) this.#count--;
  }

  /** Names noted. */
  get size(): number {
    return this.#count;
  }
}
