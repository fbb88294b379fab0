import { readFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { decodeName } from "../fsNames.js";
import { parseMountInfo, type MountInfo } from "./mountInfo.js";
import { selectMounts, type MountSelectionOptions } from "./selectMounts.js";
import { mountOf, trimTrailingSlash } from "./mountPaths.js";

/** Where the kernel publishes the calling process's mounts. */
export const PROC_MOUNTINFO = "/proc/self/mountinfo";

/**
 * The mounts visible to this process, from `/proc/self/mountinfo`: answers "which mount holds this path" and selects
 * the filesystems to monitor (see {@link selectMounts}).
 */
export class MountTable {
  /** Every mount, in the kernel's order (a mount comes after the one it is mounted on). */
  readonly mounts: readonly MountInfo[];
  readonly #visible: readonly MountInfo[];

  constructor(mounts: readonly MountInfo[]) {
    this.mounts = mounts;
    this.#visible = visibleMounts(mounts);
  }

  /** Parses mountinfo text. */
  static parse(text: string): MountTable {
    return new MountTable(parseMountInfo(text));
  }

  /** Reads and parses `/proc/self/mountinfo` (or another mountinfo file), as bytes: mount points need not be UTF-8. */
  static async read(path: string = PROC_MOUNTINFO): Promise<MountTable> {
    return MountTable.parse(decodeName(await readFile(path)));
  }

  /** Synchronous {@link MountTable.read}. */
  static readSync(path: string = PROC_MOUNTINFO): MountTable {
    return MountTable.parse(decodeName(readFileSync(path)));
  }

  /** The mounts not hidden by another mount stacked on the same mount point. */
  get visible(): readonly MountInfo[] {
    return this.#visible;
  }

  /** The visible mount whose mount point is exactly `mountPoint` (trailing slashes ignored). */
  find(mountPoint: string): MountInfo | undefined {
    const wanted = trimTrailingSlash(mountPoint);
    for (let i = this.#visible.length - 1; i >= 0; i--) {
      if (this.#visible[i]!.mountPoint === wanted) return this.#visible[i];
    }
    return undefined;
  }

  /**
   * The visible mount holding absolute path `path`: the one with the longest mount point that is `path` itself or an
   * ancestor of it (whole components only: `/home` holds `/home/a` but not `/homer`).
   */
  mountOf(path: string): MountInfo | undefined {
    return mountOf(this.#visible, path);
  }

  /** Selects the mounts to monitor; see {@link selectMounts}. */
  select(options: MountSelectionOptions): MountInfo[] {
    return selectMounts(this.#visible, options);
  }
}

/** Drops mounts over-mounted by a later mount on the same point (its child with the same mount point). */
function visibleMounts(mounts: readonly MountInfo[]): MountInfo[] {
  const covered = new Set<number>();
  const byId = new Map(mounts.map((m) => [m.mountId, m]));
  for (const mount of mounts) {
    const parent = byId.get(mount.parentId);
    if (parent && parent !== mount && parent.mountPoint === mount.mountPoint) covered.add(parent.mountId);
  }
  return mounts.filter((m) => !covered.has(m.mountId));
}
