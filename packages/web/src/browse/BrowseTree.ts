import { encodeName, type FileEntry, type TreeView } from "@rtbackup/core";

/** Names whose UTF-16 order is their UTF-8 byte order: no surrogate and nothing at or above U+D800. */
const PLAIN = /^[^\uD800-\uFFFF]*$/;

/** Compares two names (core's form) by their bytes, as `ls` under LC_ALL=C sorts them. */
export function compareNames(a: string, b: string): number {
  if (PLAIN.test(a) && PLAIN.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(encodeName(a), encodeName(b));
}

/** `names` sorted by their bytes; one encoding per name, not one per comparison. */
function sortByBytes(names: string[]): string[] {
  if (names.every((n) => PLAIN.test(n))) return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const keyed = names.map((name) => ({ name, key: encodeName(name) }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  return keyed.map((k) => k.name);
}

/** A segment that is empty, `.` or `..`: a `/` and at most two dots before the next `/` or the end. */
const BAD_SEGMENT = /\/\.{0,2}(?=\/|$)/;

/** Whether a path of the index is one a listing can show: absolute, no empty, `.` or `..` segment, no NUL. */
function listable(path: string): boolean {
  return path.startsWith("/") && !BAD_SEGMENT.test(path) && !path.includes("\0");
}

/** `dir`'s child called `name`. */
export function childPath(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

/** One page of a directory's children: their names in byte order, and the name to continue after when there are more. */
export interface ChildPage {
  readonly names: readonly string[];
  readonly next: string | undefined;
}

/**
 * A tree as of one moment, for browsing: its entries, and an index of each directory's children built the first
 * time it is needed (one pass over the tree), each directory's names sorted the first time it is listed. A directory
 * is `/`, an entry of type `dir`, or a path with no entry of its own that holds entries (implied). Paths of the index
 * that are malformed (relative, `.`, `..`, empty segments) are not listed.
 */
export class BrowseTree {
  readonly view: TreeView;
  #children: Map<string, string[]> | undefined;
  readonly #sorted = new Map<string, string[]>();

  constructor(view: TreeView) {
    this.view = view;
  }

  /** The moment of the tree: the time of the last commit it holds (ms; 0 for an empty index). */
  get time(): number {
    return this.view.time;
  }

  /** The entry the index holds at `path`, if any. */
  entry(path: string): FileEntry | undefined {
    return this.view.entries.get(path);
  }

  /** Whether `path` is a directory of this tree (recorded, or implied by what is under it). */
  isDirectory(path: string): boolean {
    if (path === "/") return true;
    const entry = this.view.entries.get(path);
    return entry ? entry.type === "dir" : this.#index().has(path);
  }

  /** The names directly in `dir`, in byte order (empty for a path that holds nothing). */
  children(dir: string): readonly string[] {
    let names = this.#sorted.get(dir);
    if (!names) {
      const listed = this.#index().get(dir);
      names = sortByBytes(listed ?? []).filter((name, i, all) => i === 0 || name !== all[i - 1]);
      // The sorted array is kept instead: the emptied list still marks the directory.
      listed?.splice(0);
      this.#sorted.set(dir, names);
    }
    return names;
  }

  /** Up to `limit` children of `dir` that sort after `after` (from the first when absent). */
  page(dir: string, after: string | undefined, limit: number): ChildPage {
    const names = this.children(dir);
    let start = 0;
    if (after !== undefined) {
      let hi = names.length;
      while (start < hi) {
        const mid = (start + hi) >>> 1;
        if (compareNames(names[mid]!, after) <= 0) start = mid + 1;
        else hi = mid;
      }
    }
    const chosen = names.slice(start, start + limit);
    return { names: chosen, next: start + limit < names.length ? chosen.at(-1) : undefined };
  }

  /**
   * Every path at or under `dir`, depth first, each directory before what is in it and names in byte order: the
   * order a tar of it is written in. Implied directories are included.
   */
  *walk(dir: string): Generator<string> {
    const stack: string[] = [dir];
    while (stack.length > 0) {
      const path = stack.pop()!;
      yield path;
      if (!this.isDirectory(path)) continue;
      const names = this.children(path);
      for (let i = names.length - 1; i >= 0; i--) stack.push(childPath(path, names[i]!));
    }
  }

  /**
   * dir → names in it (a directory may be named twice: by its entry and by what is under it; sorting drops the
   * repeat), from every listable path of the tree and the directories above each.
   */
  #index(): Map<string, string[]> {
    if (this.#children) return this.#children;
    const index = new Map<string, string[]>([["/", []]]);
    // Paths of one directory tend to come together (a scan walks directory by directory): the last one's list is reused.
    let lastDir = "";
    let lastList: string[] = [];
    for (const path of this.view.entries.keys()) {
      if (!listable(path)) continue;
      const slash = path.lastIndexOf("/");
      if (slash === lastDir.length && path.startsWith(lastDir) && slash > 0) {
        lastList.push(path.slice(slash + 1));
        continue;
      }
      // Up from the path until a directory already indexed (which its own parent then knows about).
      for (let p = path; p !== "/";) {
        const cut = p.lastIndexOf("/");
        const parent = cut === 0 ? "/" : p.slice(0, cut);
        const known = index.get(parent);
        const list = known ?? [];
        list.push(p.slice(cut + 1));
        if (p === path) [lastDir, lastList] = [parent, list];
        if (known) break;
        index.set(parent, list);
        p = parent;
      }
    }
    this.#children = index;
    return index;
  }
}
