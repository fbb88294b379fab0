import type { ChangeEvent } from "@rtbackup/core";

/** One line of `zfs diff -FH`. */
export interface ZfsDiffEntry {
  /** `+` created, `-` removed, `M` modified, `R` renamed. */
  readonly change: "+" | "-" | "M" | "R";
  /** File type as `ls -F` marks it: `F` file, `/` directory, `@` symlink, `|`, `=`, `B`, `C`, `>`, `P`, `?`. */
  readonly kind: string;
  /** The path (absolute, under the dataset's mount point); for `R`, the old path. */
  readonly path: string;
  /** For `R`: the new path. */
  readonly to?: string;
}

/**
 * Undoes zfs diff's escaping: every byte that is a space or less, a backslash, or 0x7f and above is printed as a
 * backslash and four octal digits (`\0040` for a space). The bytes are then read as UTF-8.
 */
export function unescapeZfsDiffPath(field: string): string {
  if (!field.includes("\\")) return field;
  const bytes: number[] = [];
  for (let i = 0; i < field.length; i++) {
    const m = /^\\([0-7]{4})/.exec(field.slice(i, i + 5));
    if (m) {
      bytes.push(parseInt(m[1]!, 8) & 0xff);
      i += 4;
    } else {
      bytes.push(...Buffer.from(field[i]!, "utf8"));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

function normalise(path: string): string {
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}

/**
 * Parses the output of `zfs diff -F -H <snapshot> <filesystem>` (OpenZFS): tab-separated `change, kind, path`
 * with a fourth column for renames (the new path) and for link-count changes (`(+1)`, ignored).
 * Objects on the delete queue (`(on_delete_queue)`) are skipped; a trailing `/` (the dataset's root) is dropped.
 */
export function parseZfsDiff(text: string): ZfsDiffEntry[] {
  const out: ZfsDiffEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const cols = line.split("\t");
    const [change, kind, rawPath, extra] = cols;
    if (cols.length < 3 || !change || !kind || !rawPath) throw new Error(`unexpected zfs diff line: ${line}`);
    if (change !== "+" && change !== "-" && change !== "M" && change !== "R") {
      throw new Error(`unexpected zfs diff change type "${change}" in line: ${line}`);
    }
    // zfs diff prints the mount point followed by "(on_delete_queue)" for objects it cannot name any more.
    if (rawPath.endsWith("(on_delete_queue)")) continue;
    const path = normalise(unescapeZfsDiffPath(rawPath));
    if (change === "R") {
      if (!extra) throw new Error(`zfs diff rename without a new path: ${line}`);
      out.push({ change, kind, path, to: normalise(unescapeZfsDiffPath(extra)) });
    } else {
      out.push({ change, kind, path });
    }
  }
  return out;
}

/**
 * Turns a diff into the events that bring the index from the snapshot's state to the live state: every removal
 * first, then every update. A rename becomes a removal of the old path plus an update of the new one (a `rescan`
 * for a directory, whose subtree moved with it), because the renames of a diff happen all at once (`a→b` with
 * `b→c`, or a swap) while the engine applies moves one after the other; content is deduplicated, so nothing is
 * uploaded twice.
 */
export function diffToEvents(entries: readonly ZfsDiffEntry[]): ChangeEvent[] {
  const removals: ChangeEvent[] = [];
  const updates: ChangeEvent[] = [];
  for (const e of entries) {
    if (e.change === "-") removals.push({ type: "delete", path: e.path });
    else if (e.change === "R") {
      removals.push({ type: "delete", path: e.path });
      updates.push(e.kind === "/" ? { type: "rescan", path: e.to!, reason: "renamed while the agent was down" } : { type: "update", path: e.to! });
    } else updates.push({ type: "update", path: e.path });
  }
  return [...removals, ...updates];
}
