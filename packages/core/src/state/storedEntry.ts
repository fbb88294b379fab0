// How the state cache stores an entry: a compact msgpack record under a key that is the path itself, or, for a path
// that is not UTF-8 or too long for an LMDB key, a hash of its bytes (the record then carries the path).
import { decodeName, encodeName, hasEscapedBytes } from "../fsNames.js";
import { sha256Hex } from "../repository/format.js";
import type { EntryType, FileEntry } from "../types.js";

/** What the state cache knows about one path: the index entry plus local identity (ctime, inode). */
export interface CachedEntry extends FileEntry {
  readonly ctimeMs: number;
  readonly ino: number;
}

/** Compact stored form (msgpack via lmdb). */
export interface StoredEntry {
  t: number;
  s: number;
  m: number;
  c: number;
  i: number;
  mo: number;
  u: number;
  g: number;
  k?: string[];
  tg?: string;
  /** A symlink target that is not UTF-8, as its bytes (msgpack strings are UTF-8, which cannot carry them). */
  tb?: Uint8Array;
  /** A file's recorded inode number and, with more than one name, its link count ({@link FileEntry.inode}). */
  in?: number;
  ln?: number;
  /** Extended attributes ({@link FileEntry.xattrs}): UTF-8 names, base64 values. */
  x?: Record<string, string>;
  /** A device node's major and minor numbers. */
  dv?: [number, number];
  /** The path, only for long paths whose key is a hash. */
  p?: string;
  /** The path as its bytes, for a path that is not UTF-8 (its key is a hash, as LMDB keys are UTF-8 strings). */
  pb?: Uint8Array;
}

/** Stored as their index here: append new types, never reorder (caches on disk hold these numbers). */
export const TYPES: EntryType[] = ["file", "dir", "symlink", "fifo", "chardev", "blockdev"];
export const LONG = "~L";
const MAX_KEY_BYTES = 1900;

// Keys and msgpack strings are stored as UTF-8, which would turn every byte of a non-UTF-8 name into U+FFFD (and
// make `a\xff` and `a\xfe` one key): such paths are keyed by the hash of their bytes and carry those bytes.
export function keyOf(path: string): string {
  return isHashedPath(path) ? LONG + sha256Hex(encodeName(path)) : path;
}

/** Whether {@link keyOf} keys `path` by a hash (not UTF-8, or too long for a key), without computing the hash. */
export function isHashedPath(path: string): boolean {
  // A UTF-16 code unit takes at most 3 UTF-8 bytes: most paths need no byte count.
  return (path.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(path) > MAX_KEY_BYTES) || hasEscapedBytes(path);
}

/**
 * The key range of the paths keyed by themselves that start with `prefix` (which ends in `/`): '0' follows '/', so
 * every such key sorts before the prefix without its slash plus '0'. Undefined when such paths are keyed by a hash
 * (a prefix that is not UTF-8 or too long), which {@link HASHED} holds instead.
 */
export function rangeUnder(prefix: string): { start: string; end: string } | undefined {
  return isHashedPath(prefix) ? undefined : { start: prefix, end: `${prefix.slice(0, -1)}0` };
}

/** The key range of every path keyed by a hash: in no order a directory's subtree could be read in. */
export const HASHED = { start: LONG, end: "~M" } as const;

export function encode(e: CachedEntry): StoredEntry {
  const v: StoredEntry = { t: TYPES.indexOf(e.type), s: e.size, m: e.mtimeMs, c: e.ctimeMs, i: e.ino, mo: e.mode, u: e.uid, g: e.gid };
  if (e.chunks.length) v.k = [...e.chunks];
  if (e.inode !== undefined) v.in = e.inode;
  if (e.links !== undefined) v.ln = e.links;
  if (e.xattrs !== undefined) v.x = e.xattrs;
  if (e.major !== undefined && e.minor !== undefined) v.dv = [e.major, e.minor];
  if (e.target !== undefined) {
    if (hasEscapedBytes(e.target)) v.tb = encodeName(e.target);
    else v.tg = e.target;
  }
  if (isHashedPath(e.path)) {
    if (hasEscapedBytes(e.path)) v.pb = encodeName(e.path);
    else v.p = e.path;
  }
  return v;
}

export function decode(key: string, v: StoredEntry): CachedEntry {
  const entry: CachedEntry = {
    path: v.pb ? decodeName(v.pb) : (v.p ?? key),
    type: TYPES[v.t]!,
    size: v.s,
    mtimeMs: v.m,
    ctimeMs: v.c,
    ino: v.i,
    mode: v.mo,
    uid: v.u,
    gid: v.g,
    chunks: v.k ?? [],
    ...(v.tb ? { target: decodeName(v.tb) } : v.tg !== undefined ? { target: v.tg } : {}),
    ...(v.in !== undefined ? { inode: v.in } : {}),
    ...(v.ln !== undefined ? { links: v.ln } : {}),
    ...(v.x !== undefined ? { xattrs: v.x } : {}),
    ...(v.dv !== undefined ? { major: v.dv[0], minor: v.dv[1] } : {}),
  };
  return entry;
}

/** What a scan compares with a path's lstat ({@link unchangedOnDisk}), without the rest of the entry. */
export type DiskIdentity = Pick<CachedEntry, "type" | "size" | "mtimeMs" | "ctimeMs" | "ino" | "mode" | "uid" | "gid">;

/** The {@link DiskIdentity} of a stored entry (no path, chunks or attributes decoded into an entry). */
export function identityOf(v: StoredEntry): DiskIdentity {
  return { type: TYPES[v.t]!, size: v.s, mtimeMs: v.m, ctimeMs: v.c, ino: v.i, mode: v.mo, uid: v.u, gid: v.g };
}
