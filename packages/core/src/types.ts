/** Pipeline value types shared by the engine, plugins and the repository layer. */

/**
 * What a source tells the engine. Paths are absolute and normalised.
 * - `update`: the file (or directory) at `path` may have changed or been created.
 * - `move`: `from` was renamed to `to` (a directory moves its whole subtree).
 * - `delete`: `path` is gone (a directory takes its subtree with it).
 * - `rescan`: the source lost track under `path` (queue overflow, unresolvable event); compare it with the state.
 */
export type ChangeEvent =
  | { readonly type: "update"; readonly path: string }
  | { readonly type: "move"; readonly from: string; readonly to: string }
  | { readonly type: "delete"; readonly path: string }
  | { readonly type: "rescan"; readonly path: string; readonly reason?: string };

/** A bail result of the `intake` hook. `exclude` drops the event; `include` accepts it without asking later taps. */
export type IntakeVerdict = "include" | "exclude";

/** The unit a snapshot covers: one filesystem (a mount point, or a ZFS dataset). */
export interface SnapshotRequest {
  /** Mount point (or dataset mountpoint) the files of the batch live under. */
  readonly filesystem: string;
  /** The live paths of the batch that fall on this filesystem. */
  readonly paths: readonly string[];
}

/**
 * A consistent, read-only view of one filesystem at one moment, shared by every file of a batch and released when
 * the last of them is done with it.
 */
export interface Snapshot {
  /** A name for logs (`tank/home@rtb-...`, `live:/home`). */
  readonly name: string;
  /** The filesystem it covers (as in {@link SnapshotRequest.filesystem}). */
  readonly filesystem: string;
  /** When it was taken (ms since the epoch). */
  readonly createdAt: number;
  /** Where a live path can be read as of this snapshot. */
  pathOf(livePath: string): string;
  /** Destroys the snapshot. Called exactly once by the engine, when its reference count drops to zero. */
  release(): Promise<void>;
}

/** Argument of the `stability` hook. */
export interface StabilityRequest {
  /** Live paths to check. */
  readonly paths: readonly string[];
}

/** The answer of a stability check: the subset of paths some process holds open for writing. */
export type WriterSet = ReadonlySet<string>;

/**
 * Kinds of index entries. FIFOs and device nodes (`fifo`, `chardev`, `blockdev`) are written to format 2 repositories
 * only (docs/format-v2.md); a UNIX socket is never recorded (it is made again by the server that binds it).
 */
export type EntryType = "file" | "dir" | "symlink" | SpecialType;

/** Entry types of FIFOs and device nodes: metadata only, no content. */
export type SpecialType = "fifo" | "chardev" | "blockdev";

/** The recorded state of one path, as stored in the index and the local state cache. */
export interface FileEntry {
  readonly path: string;
  readonly type: EntryType;
  readonly size: number;
  /** Modification time, ms since the epoch (fractional part kept to the ns where the platform gives it). */
  readonly mtimeMs: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Content object ids (hex SHA-256), in file order. Empty for empty files, directories and symlinks. */
  readonly chunks: readonly string[];
  /** Link target, for symlinks. */
  readonly target?: string;
  /** A file's inode number when it was read (on its filesystem; ZFS snapshots keep it). */
  readonly inode?: number;
  /**
   * A file's link count when it had more than one name (hard links). A restore makes the names of one inode that it
   * restores together into hard links again (see docs/format.md). Absent for a file with one name.
   */
  readonly links?: number;
  /**
   * The names of `uid` and `gid` on the machine that was backed up, when it had names for them. A restore as root
   * gives the file this machine's ids for those names (the recorded ids when it has no such name, or with
   * `numericOwner`).
   */
  readonly user?: string;
  readonly group?: string;
  /**
   * Extended attributes (`user.*`, `trusted.*`, `security.*`, POSIX ACLs): name → value in base64, names in ascending
   * order (docs/format.md). Absent when the entry has none.
   */
  readonly xattrs?: import("./xattrs/xattrs.js").Xattrs;
  /** A device node's major and minor numbers (`chardev` and `blockdev` only). */
  readonly major?: number;
  readonly minor?: number;
}

/** Argument of the `intake` hook: one path of an event, asked "back this up?". */
export interface IntakeRequest {
  readonly path: string;
  readonly event: ChangeEvent;
}

/** Argument of the `storage` hook. */
export interface StorageRequest {
  /** The parameters the engine was built with. */
  readonly parameters: import("./config/Parameters.js").Parameters;
}

/** Argument of `beforeScan` and the `rescan` observer. */
export interface ScanInfo {
  /** `initial` backup, `startup` catch-up, `periodic`, `overflow` (source lost events) or `request`ed. */
  readonly reason: "initial" | "startup" | "periodic" | "overflow" | "request";
  /** The directories that will be walked. */
  readonly roots: readonly string[];
}

/** What the action queue holds. */
export type BackupAction =
  | {
      readonly type: "upload";
      readonly path: string;
      /** Where to read the content: the live path, a snapshot path or a staging copy. */
      readonly source: string;
      readonly snapshot?: Snapshot;
      /** Metadata to record when `source` is a staging copy (taken from the snapshot before copying). */
      readonly stats?: import("node:fs").Stats;
      /** With `stats`: the extended attributes the snapshot's file had (a staging copy has none of its own). */
      readonly xattrs?: import("./xattrs/xattrs.js").ReadXattrs;
    }
  | { readonly type: "move"; readonly from: string; readonly to: string }
  | { readonly type: "delete"; readonly path: string };

/** Argument of the `uploadStarted` / `uploaded` observers. */
export interface UploadInfo {
  readonly path: string;
  readonly size: number;
  /** Bytes actually sent (0 when every chunk was already stored). */
  readonly bytesUploaded?: number;
  /** Chunks sent / chunks in the file. */
  readonly chunksUploaded?: number;
  readonly chunksTotal?: number;
}

/** Argument of the `commit` hook: one index batch, after it is durably stored. */
export interface CommitInfo {
  /** Sequence number of the batch in the index. */
  readonly sequence: number;
  /** Object key of the batch. */
  readonly key: string;
  readonly records: readonly IndexRecord[];
}

/** Argument of the `failure` observer. */
export interface FailureInfo {
  readonly path: string;
  readonly stage: "intake" | "snapshot" | "stability" | "upload" | "commit" | "scan" | "source";
  readonly error: unknown;
  /** How many times this path has failed in a row. */
  readonly attempts: number;
  /** When the next attempt is due (ms since the epoch), if one is scheduled. */
  readonly retryAt?: number;
}

/** One record of an index batch (see docs/format.md). */
export type IndexRecord =
  ({ readonly op: "put" } & FileEntry) | { readonly op: "move"; readonly from: string; readonly to: string } | { readonly op: "delete"; readonly path: string };
