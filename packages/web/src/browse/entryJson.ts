import type { EntryType, FileEntry } from "@rtbackup/core";
import { toWire } from "./wirePath.js";

/** What the API calls each entry type. */
const KINDS: Record<EntryType, string> = { file: "file", dir: "directory", symlink: "symlink", fifo: "fifo", chardev: "chardev", blockdev: "blockdev" };

/** An ISO 8601 time of ms since the epoch. */
export const iso = (ms: number): string => new Date(ms).toISOString();

/** One child of a listed directory, names and paths as wire text (see wirePath.ts). */
export interface ListedEntry {
  name: string;
  path: string;
  /** `file`, `directory`, `symlink`, `fifo`, `chardev` or `blockdev`. */
  type: string;
  size: number;
  /** Modification time (ISO); null for an implied directory. */
  mtime: string | null;
  /** Permission bits (and set-id, sticky), e.g. 420 for 0644; null for an implied directory. */
  mode: number | null;
  /** A symlink's target. */
  target?: string;
  /** A directory the index has no entry for, only paths under it (a parent of a backup root). */
  implied?: true;
}

/** The JSON of `name` in a directory: its entry, or an implied directory when the index has none. */
export function listedEntry(name: string, path: string, entry: FileEntry | undefined): ListedEntry {
  if (!entry) return { name: toWire(name), path: toWire(path), type: "directory", size: 0, mtime: null, mode: null, implied: true };
  return {
    name: toWire(name),
    path: toWire(path),
    type: KINDS[entry.type] ?? entry.type,
    size: entry.size,
    mtime: iso(entry.mtimeMs),
    mode: entry.mode & 0o7777,
    ...(entry.type === "symlink" ? { target: toWire(entry.target ?? "") } : {}),
  };
}

/** The API's name of an entry type. */
export function kindOf(type: EntryType): string {
  return KINDS[type] ?? type;
}
