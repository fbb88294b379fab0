import { createHash } from "node:crypto";
import { applyRecord, isNoOpMove } from "../repository/format.js";
import type { FileEntry, IndexRecord } from "../types.js";
import type { Commit } from "./commits.js";

/** One committed version of a path: what a commit left there (`put`, `moved` in) or that it took away (`deleted`). */
export interface Version {
  readonly path: string;
  readonly event: "put" | "moved" | "deleted";
  readonly time: number;
  readonly writer: string;
  readonly seq: number;
  /** The entry the commit left at `path` (absent for `deleted`). */
  readonly entry?: FileEntry | undefined;
  /** For `moved`: where the entry was before. */
  readonly from?: string | undefined;
}

/** Whether `path` is `root` or lies under it. */
export function isAtOrUnder(path: string, root: string): boolean {
  return path === root || root === "/" || path.startsWith(`${root}/`);
}

/** The paths a record names: a put's, a delete's, a move's two. */
function recordPaths(record: IndexRecord): string[] {
  return record.op === "move" ? [record.from, record.to] : [record.path];
}

/** Whether applying `record` can change an entry at or under `root` (`recursive`) or at `root` only. */
function touches(record: IndexRecord, root: string, recursive: boolean): boolean {
  for (const p of recordPaths(record)) {
    // A delete or move of a directory above `root` carries `root` with it; a put changes its own path only.
    if (record.op !== "put" && isAtOrUnder(root, p)) return true;
    if (recursive ? isAtOrUnder(p, root) : p === root) return true;
  }
  return false;
}

/**
 * Every committed version of `root` (with `recursive`, of every path at or under it), oldest first: the commits are
 * applied in order to one tree (moves and directory deletes as readers apply them), and each commit that leaves a
 * different entry at a selected path, or none where there was one, gives a version of that path. Several records of
 * one commit give one version: what the commit left.
 */
export function versionsOf(commits: Iterable<Commit>, root: string, options: { recursive?: boolean } = {}): Version[] {
  const recursive = options.recursive === true;
  const selected = (path: string) => (recursive ? isAtOrUnder(path, root) : path === root);
  const tree = new Map<string, FileEntry>();
  const out: Version[] = [];
  for (const commit of commits) {
    const before = new Map<string, FileEntry | undefined>();
    const movedFrom = new Map<string, string>();
    const note = (path: string) => {
      if (selected(path) && !before.has(path)) before.set(path, tree.get(path));
    };
    for (const record of commit.records) {
      if (record.op === "move" && isNoOpMove(record.from, record.to)) continue;
      if (!touches(record, root, recursive)) {
        apply(tree, record);
        continue;
      }
      if (record.op === "put") note(record.path);
      else for (const path of tree.keys()) if (recordPaths(record).some((p) => isAtOrUnder(path, p))) note(path);
      apply(tree, record);
      if (record.op === "move") {
        for (const path of tree.keys()) {
          if (!isAtOrUnder(path, record.to)) continue;
          // What was at or under `to` before was noted above; anything else there now was not there before.
          if (selected(path) && !before.has(path)) before.set(path, undefined);
          movedFrom.set(path, record.from + path.slice(record.to.length));
        }
      }
    }
    for (const [path, was] of before) {
      const now = tree.get(path);
      if (now === was) continue;
      const event = !now ? "deleted" : movedFrom.has(path) && !putLast(commit.records, path) ? "moved" : "put";
      out.push(version(path, event, commit, now, event === "moved" ? movedFrom.get(path) : undefined));
    }
  }
  return out.sort((a, b) => a.time - b.time || a.seq - b.seq || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** {@link applyRecord}, but a put keeps the record itself as the entry (a million versions, no million copies). */
function apply(tree: Map<string, FileEntry>, record: IndexRecord): void {
  if (record.op === "put") tree.set(record.path, record);
  else applyRecord(tree, record);
}

/**
 * One version, always with the same fields in the same order (absent ones undefined): a million of them share one
 * object shape, about 80 bytes each, where spread literals of varying shape cost several times that.
 */
function version(path: string, event: Version["event"], commit: Commit, entry: FileEntry | undefined, from: string | undefined): Version {
  return { path, event, time: commit.time, writer: commit.writer, seq: commit.seq, entry, from };
}

/** Whether the last of a commit's `records` that names `path` is a put of it (a put after a move wins over the move). */
export function putLast(records: readonly IndexRecord[], path: string): boolean {
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i]!;
    if (r.op === "put" && r.path === path) return true;
    if (r.op !== "put" && recordPaths(r).some((p) => isAtOrUnder(path, p))) return false;
  }
  return false;
}

/**
 * A short name of an entry's content, the same for the same bytes cut the same way: the SHA-256 of its content ids
 * (a file), of its target (a symlink); undefined for entries without content. Content ids are keyed in an encrypted
 * repository, so this names nothing outside it.
 */
export function contentIdOf(entry: FileEntry): string | undefined {
  if (entry.type === "file") return createHash("sha256").update(entry.chunks.join("\n")).digest("hex");
  if (entry.type === "symlink")
    return createHash("sha256")
      .update(entry.target ?? "")
      .digest("hex");
  return undefined;
}

/** One commit as a line of a timeline. */
export interface CommitSummary {
  readonly time: number;
  readonly writer: string;
  readonly seq: number;
  readonly key: string;
  /** Entries put (files, directories, links …), moves and deletes among the commit's records. */
  readonly put: number;
  readonly moved: number;
  readonly deleted: number;
  /** The sizes of the files put, added up. */
  readonly bytes: number;
  /** v2: what the commit stored (blobs new to the repository, compressed); v1: undefined. */
  readonly storedBytes: number | undefined;
}

/**
 * The commits between `since` and `until` (inclusive, ms), each summed up; with `path`, only the commits with a
 * record that touches it or what is under it (a move or delete of a directory above it included), counting those
 * records alone.
 */
export function summarizeCommits(commits: Iterable<Commit>, options: { since?: number; until?: number; path?: string } = {}): CommitSummary[] {
  const out: CommitSummary[] = [];
  for (const c of commits) {
    if ((options.since !== undefined && c.time < options.since) || (options.until !== undefined && c.time > options.until)) continue;
    const records = options.path === undefined ? c.records : c.records.filter((r) => touches(r, options.path!, true));
    // A batch with no record (a prune's batch of blob locations only) is no commit of anything.
    if (records.length === 0) continue;
    let [put, moved, deleted, bytes] = [0, 0, 0, 0];
    for (const r of records) {
      if (r.op === "put") {
        put++;
        if (r.type === "file") bytes += r.size;
      } else if (r.op === "move") moved++;
      else deleted++;
    }
    out.push({ time: c.time, writer: c.writer, seq: c.seq, key: c.key, put, moved, deleted, bytes, storedBytes: c.storedBytes });
  }
  return out;
}
