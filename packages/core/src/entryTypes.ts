// What kind of index entry a stat describes: the one classification the walk, the upload, the state cache
// comparison, the record checks and the restore share.
import type { Stats } from "node:fs";
import type { EntryType, SpecialType } from "./types.js";

/** Every entry type a record may have (docs/format.md; FIFOs and devices are written to format 2 repositories only). */
export const ENTRY_TYPES: ReadonlySet<string> = new Set<EntryType>(["file", "dir", "symlink", "fifo", "chardev", "blockdev"]);

/** Whether an entry type is a FIFO or a device node (metadata only, made with mknodat on restore). */
export function isSpecialType(type: string): type is SpecialType {
  return type === "fifo" || type === "chardev" || type === "blockdev";
}

/** The entry type of what `stats` describe; `other` for a UNIX socket (never recorded). */
export function entryTypeOf(
  stats: Pick<Stats, "isFile" | "isDirectory" | "isSymbolicLink" | "isFIFO" | "isCharacterDevice" | "isBlockDevice">,
): EntryType | "other" {
  if (stats.isFile()) return "file";
  if (stats.isDirectory()) return "dir";
  if (stats.isSymbolicLink()) return "symlink";
  if (stats.isFIFO()) return "fifo";
  if (stats.isCharacterDevice()) return "chardev";
  return stats.isBlockDevice() ? "blockdev" : "other";
}
