import { MountTable, ZFS_MOUNT_TYPES, type MountEntry } from "./MountTable.js";
import type { ZfsDataset } from "./parseZfsList.js";

/** A mounted ZFS dataset, as the snapshot strategy sees it. */
export interface ZfsMount {
  /** Where it is mounted: the `filesystem` the engine names in snapshot requests. */
  readonly mountpoint: string;
  /** The dataset (`pool/a/b`). */
  readonly dataset: string;
  /** The directory inside the dataset that appears at `mountpoint` (`/` unless it is a bind mount of a subtree). */
  readonly root: string;
  /** `zfs` (OpenZFS) or `fuse.zfs` (zfs-fuse). */
  readonly fsType: string;
  /** `<dataset root>/.zfs/snapshot` when it exists; undefined when snapshots must be read through a clone. */
  readonly snapdir: string | undefined;
}

/** Inputs of {@link ZfsDatasetTable}. */
export interface ZfsDatasetTableInput {
  /** `zfs list` output, parsed. */
  readonly datasets: readonly ZfsDataset[];
  /** The whole mount table (ZFS and other filesystems: a non-ZFS mount under a dataset hides it there). */
  readonly mounts: readonly MountEntry[];
  /** For each mount point of a ZFS mount with root `/`: whether `<mountpoint>/.zfs/snapshot` exists. */
  readonly snapdirs: ReadonlyMap<string, boolean>;
  /** True for datasets that are our own clones (never offered as filesystems). */
  readonly isOwnClone: (dataset: string) => boolean;
}

/** True for mount entries that are live ZFS datasets (not a snapshot auto-mounted under `.zfs`, not our clones). */
export function isDatasetMount(entry: MountEntry, isOwnClone: (dataset: string) => boolean): boolean {
  return ZFS_MOUNT_TYPES.has(entry.fsType) && !entry.source.includes("@") && !isOwnClone(entry.source);
}

/**
 * A fingerprint of the ZFS part of a mount table: when it changes, datasets were mounted, unmounted or moved and
 * `zfs list` must be asked again. Non-ZFS mounts and snapshot auto-mounts do not count.
 */
export function zfsMountSignature(mounts: readonly MountEntry[], isOwnClone: (dataset: string) => boolean): string {
  return mounts
    .filter((m) => isDatasetMount(m, isOwnClone))
    .map((m) => `${m.source}\t${m.mountpoint}\t${m.root}\t${m.fsType}`)
    .sort()
    .join("\n");
}

/**
 * What the plugin knows about datasets and where they are mounted: maps a path to the mount point of the deepest
 * dataset containing it, and each such mount point to its dataset and snapshot access path. Built from `zfs list`
 * and `/proc/self/mountinfo`, so legacy mounts and bind mounts are seen too.
 */
export class ZfsDatasetTable {
  /** The datasets `zfs list` reported. */
  readonly datasets: ReadonlyMap<string, ZfsDataset>;
  readonly #mounts: MountTable;
  readonly #zfs = new Map<string, ZfsMount>();
  readonly #isOwnClone: (dataset: string) => boolean;

  constructor(input: ZfsDatasetTableInput) {
    this.datasets = new Map(input.datasets.map((d) => [d.name, d]));
    this.#mounts = new MountTable(input.mounts);
    this.#isOwnClone = input.isOwnClone;
    const visible = [...this.#mounts.entries].filter((m) => isDatasetMount(m, input.isOwnClone));
    const rootSnapdir = new Map<string, string>();
    for (const m of visible) {
      if (m.root === "/" && input.snapdirs.get(m.mountpoint) === true && !rootSnapdir.has(m.source)) {
        rootSnapdir.set(m.source, `${m.mountpoint === "/" ? "" : m.mountpoint}/.zfs/snapshot`);
      }
    }
    for (const m of visible) {
      this.#zfs.set(m.mountpoint, {
        mountpoint: m.mountpoint,
        dataset: m.source,
        root: m.root,
        fsType: m.fsType,
        snapdir: rootSnapdir.get(m.source),
      });
    }
  }

  /** Every mounted dataset (one entry per mount point). */
  get mounts(): ZfsMount[] {
    return [...this.#zfs.values()];
  }

  /** The mount of a dataset at this mount point, if one is mounted there now. */
  mount(filesystem: string): ZfsMount | undefined {
    return this.#zfs.get(filesystem);
  }

  /**
   * The mount point of the deepest dataset containing `path`, or undefined when the path is not on ZFS (including
   * a non-ZFS filesystem mounted below a dataset).
   */
  filesystemOf(path: string): string | undefined {
    const entry = this.#mounts.mountOf(path);
    return entry && this.#zfs.has(entry.mountpoint) ? entry.mountpoint : undefined;
  }

  /** Filesystem datasets that ZFS would mount at a path but which are not mounted. */
  get unmounted(): ZfsDataset[] {
    const mounted = new Set([...this.#zfs.values()].map((m) => m.dataset));
    return [...this.datasets.values()].filter(
      (d) => d.type === "filesystem" && d.mountpoint?.startsWith("/") === true && !mounted.has(d.name) && !this.#isOwnClone(d.name),
    );
  }
}
