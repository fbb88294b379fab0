import { ConfigError } from "../errors.js";
import type { MountInfo } from "./mountInfo.js";
import { isUnder, trimTrailingSlash } from "./mountPaths.js";

/** How {@link selectMounts} chooses the filesystems to monitor (DQD's surface area). */
export interface MountSelectionOptions {
  /** Filesystem types to take (`MonitorFileSystemTypes`); `zfs` also matches `fuse.zfs` (zfs-fuse). */
  readonly fileSystemTypes: readonly string[];
  /** Mount points that win when one filesystem is mounted several times (`PreferredMountPoints`). */
  readonly preferredMountPoints?: readonly string[];
  /** Names the setting in errors; default `PreferredMountPoints`. */
  readonly where?: string;
}

/** True when mount type `fsType` is one of `wanted`; `zfs` also matches `fuse.zfs`. */
export function fileSystemTypeMatches(fsType: string, wanted: readonly string[]): boolean {
  for (const w of wanted) {
    if (fsType === w || (w === "zfs" && fsType === "fuse.zfs")) return true;
  }
  return false;
}

/**
 * Chooses one mount per filesystem tree to monitor, in mount-point order:
 * 1. mounts whose type is not in `fileSystemTypes` are dropped;
 * 2. mounts are grouped by device (`major:minor`, i.e. the superblock) and the root inside it;
 * 3. a group whose root lies under the root of another group of the same device is a bind mount of a
 *    subdirectory of a tree already covered, and is dropped;
 * 4. a group with several mounts (bind mounts of the same tree) keeps the one listed in `preferredMountPoints`;
 *    none or several listed is a {@link ConfigError}, since guessing would back files up under the wrong path.
 */
export function selectMounts(mounts: readonly MountInfo[], options: MountSelectionOptions): MountInfo[] {
  const where = options.where ?? "PreferredMountPoints";
  const preferred = new Set((options.preferredMountPoints ?? []).map(trimTrailingSlash));
  const groups = new Map<string, MountInfo[]>();
  for (const mount of mounts) {
    if (mount.mountPoint === "" || !fileSystemTypeMatches(mount.fsType, options.fileSystemTypes)) continue;
    const key = `${mount.major}:${mount.minor}\0${mount.root}`;
    const group = groups.get(key);
    if (group) group.push(mount);
    else groups.set(key, [mount]);
  }
  const roots = [...groups.values()].map((g) => g[0]!);
  const selected: MountInfo[] = [];
  for (const group of groups.values()) {
    const first = group[0]!;
    const coveredByWiderRoot = roots.some(
      (other) => other.major === first.major && other.minor === first.minor && other.root !== first.root && isUnder(first.root, other.root),
    );
    if (coveredByWiderRoot) continue;
    if (group.length === 1) {
      selected.push(first);
      continue;
    }
    const chosen = group.filter((m) => preferred.has(m.mountPoint));
    const points = group.map((m) => m.mountPoint).join(", ");
    if (chosen.length !== 1) {
      throw new ConfigError(
        where,
        chosen.length === 0
          ? `filesystem ${first.source} (device ${first.major}:${first.minor}) is mounted at ${points}; ` + `list exactly one of them in PreferredMountPoints`
          : `filesystem ${first.source} (device ${first.major}:${first.minor}) has several preferred mount points ` +
              `(${chosen.map((m) => m.mountPoint).join(", ")}); list only one`,
      );
    }
    selected.push(chosen[0]!);
  }
  return selected.sort((a, b) => (a.mountPoint < b.mountPoint ? -1 : a.mountPoint > b.mountPoint ? 1 : 0));
}
