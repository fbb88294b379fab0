import { dirname } from "node:path";
import { isUnder } from "../mounts/mountPaths.js";
import type { TreeSpill } from "../repository/v2/treeSpill.js";
import type { FileEntry } from "../types.js";
import { addLinked, type RestoreSource } from "./RestoreSource.js";
import { normalizeRequest } from "./select.js";

/** A selection from a tree on disk: streamed, a piece at a time; and the requested paths that matched nothing. */
export interface SpillSelection {
  readonly source: RestoreSource;
  readonly missing: string[];
  /** Entries selected, and the bytes of the files among them (a counting pass over the selection). */
  readonly count: number;
  readonly bytes: number;
}

/** One requested path, and which entries it selects (as `Restorer.select` decides it). */
interface Request {
  readonly raw: string;
  readonly path: string;
  /** all: everything; exact: a file or symlink; subtree: a directory and all under it; direct: it and its files. */
  readonly kind: "all" | "exact" | "subtree" | "direct";
}

function requestOf(spill: TreeSpill, raw: string, recursive: boolean): Request {
  const path = normalizeRequest(raw);
  if (path === "/" && recursive) return { raw, path, kind: "all" };
  const exact = spill.get(path);
  if (exact && exact.type !== "dir") return { raw, path, kind: "exact" };
  return { raw, path, kind: recursive ? "subtree" : "direct" };
}

function selects(r: Request, e: FileEntry): boolean {
  switch (r.kind) {
    case "all":
      return true;
    case "exact":
      return e.path === r.path;
    case "subtree":
      return isUnder(e.path, r.path);
    case "direct":
      return e.path === r.path || (e.type !== "dir" && isUnder(e.path, r.path) && dirname(e.path) === r.path);
  }
}

/** The entries a request could select: one lookup, or the key range under its path (and the hash-keyed paths). */
function* candidates(spill: TreeSpill, r: Request): Generator<FileEntry> {
  if (r.kind === "all") {
    yield* spill.entryList();
    return;
  }
  const exact = spill.get(r.path);
  if (exact) yield exact;
  if (r.kind !== "exact") yield* spill.under(r.path === "/" ? "/" : `${r.path}/`);
}

/**
 * Selects from a tree on disk what `Restorer.select` selects from a Map (a file or symlink selects itself; a
 * directory its files, or with `recursive` its subtree; `/` with `recursive` everything, malformed paths included, so
 * the restore reports them), as a {@link RestoreSource} read from the spill `pieceSize` entries at a time. Requests
 * that overlap give each entry once. Directories deepest first: the hash-keyed ones (rare: names that are not UTF-8,
 * or paths too long for a key) sorted in memory, then the rest in reverse key order; a directory under a hash-keyed
 * path is hash-keyed too, so none comes after one above it.
 */
export function selectFromSpill(spill: TreeSpill, paths: readonly string[], recursive: boolean, pieceSize = 4096): SpillSelection {
  const requests = paths.map((raw) => requestOf(spill, raw, recursive));
  const any = (e: FileEntry) => requests.some((r) => selects(r, e));
  function* selected(): Generator<FileEntry> {
    for (let i = 0; i < requests.length; i++) {
      const r = requests[i]!;
      const earlier = requests.slice(0, i);
      for (const e of candidates(spill, r)) if (selects(r, e) && !earlier.some((q) => selects(q, e))) yield e;
    }
  }
  function* directoriesDeepestFirst(): Generator<FileEntry[]> {
    const depth = (e: FileEntry) => e.path.split("/").length;
    const hashed: FileEntry[] = [];
    for (const e of spill.hashed()) if (e.type === "dir" && any(e)) hashed.push(e);
    if (hashed.length) yield hashed.sort((a, b) => depth(b) - depth(a));
    yield* inPieces(
      filtered(spill.byPath(true), (e) => e.type === "dir" && any(e)),
      pieceSize,
    );
  }
  const pieces = () => inPieces(selected(), pieceSize);
  const missing = requests.filter((r) => !someOf(candidates(spill, r), (e) => selects(r, e))).map((r) => r.raw);
  let count = 0;
  let bytes = 0;
  const linked = new Set<string>();
  for (const e of selected()) {
    count++;
    if (e.type === "file") bytes += e.size;
    addLinked(linked, e);
  }
  return { source: { pieces, directoriesDeepestFirst, linked }, missing, count, bytes };
}

/** `items` as arrays of at most `size`. */
function* inPieces<T>(items: Iterable<T>, size: number): Generator<T[]> {
  let piece: T[] = [];
  for (const item of items) {
    piece.push(item);
    if (piece.length >= size) {
      yield piece;
      piece = [];
    }
  }
  if (piece.length) yield piece;
}

function* filtered<T>(items: Iterable<T>, keep: (item: T) => boolean): Generator<T> {
  for (const item of items) if (keep(item)) yield item;
}

function someOf<T>(items: Iterable<T>, test: (item: T) => boolean): boolean {
  for (const item of items) if (test(item)) return true;
  return false;
}
