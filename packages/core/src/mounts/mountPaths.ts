import type { MountInfo } from "./mountInfo.js";

/**
 * Among `mounts`, the one with the longest mount point that is `path` or an ancestor of it (whole components only:
 * `/home` holds `/home/a` but not `/homer`). With two mounts on the same point, the later one (stacked on top) wins.
 */
export function mountOf(mounts: readonly MountInfo[], path: string): MountInfo | undefined {
  let best: MountInfo | undefined;
  for (const mount of mounts) {
    if (!isUnder(path, mount.mountPoint)) continue;
    if (!best || mount.mountPoint.length >= best.mountPoint.length) best = mount;
  }
  return best;
}

/** True when absolute `path` equals `ancestor` or lies below it, comparing whole path components. */
export function isUnder(path: string, ancestor: string): boolean {
  if (ancestor === "/") return path.startsWith("/");
  return path === ancestor || (path.startsWith(ancestor) && path.charCodeAt(ancestor.length) === 47);
}

/** `path` without trailing slashes (`/` stays `/`). */
export function trimTrailingSlash(path: string): string {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 47) end--;
  return path.slice(0, end);
}
