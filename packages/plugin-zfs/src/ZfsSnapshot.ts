import { posix } from "node:path";
import type { Snapshot } from "@rtbackup/core";
import { ZfsError } from "./ZfsError.js";

/** How a {@link ZfsSnapshot} is read and what must be destroyed when it is released. */
export interface ZfsSnapshotInit {
  /** The dataset snapshotted (`pool/a`). */
  readonly dataset: string;
  /** The snapshot's own name (after `@`). */
  readonly shortName: string;
  /** The mount point the batch named. */
  readonly filesystem: string;
  /** The directory of the dataset mounted at `filesystem` (`/` unless a bind mount of a subtree). */
  readonly root: string;
  /** Directory showing the dataset's root as of the snapshot: `<mp>/.zfs/snapshot/<name>` or the clone's mount. */
  readonly accessRoot: string;
  /** The read-only clone, when the snapshot is read through one. */
  readonly clone?: { readonly dataset: string; readonly mountpoint: string };
  /** When it was taken (ms since the epoch, just before `zfs snapshot` ran). */
  readonly createdAt: number;
  /** The current answer to "which filesystem is this path on?" (the plugin's dataset table). */
  readonly filesystemOf: (path: string) => string | undefined;
  /** Destroys the clone and the snapshot (the plugin's release, with retries and deferral). */
  readonly destroy: (snapshot: ZfsSnapshot) => Promise<void>;
}

/**
 * One ZFS snapshot of one dataset, shared by every file of a batch on that dataset. Files are read through
 * `.zfs/snapshot/<name>` (OpenZFS) or a read-only clone mounted in a private directory (zfs-fuse).
 */
export class ZfsSnapshot implements Snapshot {
  /** `dataset@name`. */
  readonly name: string;
  readonly filesystem: string;
  readonly createdAt: number;
  /** The dataset snapshotted. */
  readonly dataset: string;
  /** The snapshot's own name (after `@`). */
  readonly shortName: string;
  /** Directory showing the dataset's root as of the snapshot. */
  readonly accessRoot: string;
  /** The read-only clone, if the snapshot is read through one. */
  readonly clone: { readonly dataset: string; readonly mountpoint: string } | undefined;
  readonly #root: string;
  readonly #filesystemOf: (path: string) => string | undefined;
  readonly #destroy: (snapshot: ZfsSnapshot) => Promise<void>;
  #released: Promise<void> | undefined;

  constructor(init: ZfsSnapshotInit) {
    this.dataset = init.dataset;
    this.shortName = init.shortName;
    this.name = `${init.dataset}@${init.shortName}`;
    this.filesystem = init.filesystem;
    this.createdAt = init.createdAt;
    this.accessRoot = init.accessRoot;
    this.clone = init.clone;
    this.#root = init.root;
    this.#filesystemOf = init.filesystemOf;
    this.#destroy = init.destroy;
  }

  /** True once `release()` was called. */
  get released(): boolean {
    return this.#released !== undefined;
  }

  /**
   * Where `livePath` can be read as of this snapshot. Throws a {@link ZfsError} (so the file is retried, never
   * taken for deleted) when the snapshot was released, or the path is not on this dataset — including a path that
   * moved to another dataset because one was mounted or unmounted since the batch was formed.
   */
  pathOf(livePath: string): string {
    if (this.#released) throw new ZfsError("failed", `snapshot ${this.name} was already released; cannot read ${livePath}`);
    const fs = this.filesystem;
    const inside = livePath === fs || livePath.startsWith(fs === "/" ? "/" : `${fs}/`);
    if (!inside) throw new ZfsError("failed", `${livePath} is not under ${fs}, the mount point of ${this.dataset}`);
    const now = this.#filesystemOf(livePath);
    if (now !== fs) {
      throw new ZfsError(
        "not-mounted",
        `${livePath} is no longer on dataset ${this.dataset} at ${fs} (now ${now ?? "not on ZFS"}): a dataset was mounted or unmounted; retry with a new snapshot`,
      );
    }
    const rel = fs === "/" ? livePath : livePath.slice(fs.length);
    const joined = posix.join(this.accessRoot, this.#root, rel);
    return joined.length > 1 && joined.endsWith("/") ? joined.slice(0, -1) : joined;
  }

  /** Destroys the clone (if any) and the snapshot. Later calls return the first call's promise. */
  release(): Promise<void> {
    this.#released ??= this.#destroy(this);
    return this.#released;
  }
}
