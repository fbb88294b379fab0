/**
 * The columns the plugin asks `zfs list` for. Both OpenZFS and zfs-fuse know them; neither `-p` nor `-j` is used
 * because zfs-fuse has neither.
 */
export const ZFS_LIST_COLUMNS = ["name", "type", "mountpoint", "mounted", "origin"] as const;

/** One line of `zfs list -H -o name,type,mountpoint,mounted,origin`. */
export interface ZfsDataset {
  /** Full name: `pool/a/b` for a filesystem, `pool/a@snap` for a snapshot. */
  readonly name: string;
  /** `filesystem`, `volume`, `snapshot` or `bookmark`. */
  readonly type: string;
  /** The `mountpoint` property: an absolute path, `legacy`, `none`, or undefined (`-`, e.g. snapshots). */
  readonly mountpoint: string | undefined;
  /** Whether ZFS says the dataset is mounted (`yes`); false for `no` and `-`. */
  readonly mounted: boolean;
  /** The snapshot a clone was made from, if it is a clone. */
  readonly origin: string | undefined;
}

/**
 * Parses the tab-separated output of `zfs list -H -o name,type,mountpoint,mounted,origin [-t ...]`.
 * Blank lines and "no datasets available" are skipped; a line with the wrong number of columns throws (the command's contract changed).
 */
export function parseZfsList(text: string): ZfsDataset[] {
  const out: ZfsDataset[] = [];
  for (const line of text.split("\n")) {
    // Some versions print this instead of nothing when there is nothing to list.
    if (line.trim() === "" || line.trim() === "no datasets available") continue;
    const cols = line.split("\t");
    if (cols.length !== ZFS_LIST_COLUMNS.length) {
      throw new Error(`unexpected zfs list line (${cols.length} columns, expected ${ZFS_LIST_COLUMNS.length}): ${line}`);
    }
    const [name, type, mountpoint, mounted, origin] = cols as [string, string, string, string, string];
    out.push({
      name,
      type,
      mountpoint: mountpoint === "-" || mountpoint === "" ? undefined : mountpoint,
      mounted: mounted === "yes",
      origin: origin === "-" || origin === "" ? undefined : origin,
    });
  }
  return out;
}
