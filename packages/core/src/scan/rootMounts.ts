import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isErrno } from "../errors.js";
import { MountTable } from "../mounts/MountTable.js";

/** The file in the state directory that remembers which filesystem each root was on. */
export const ROOT_MOUNTS_FILE = "roots.json";

/** The filesystem a root was found on at its last scan. */
export interface RootMount {
  mountPoint: string;
  source: string;
  fsType: string;
}

/** A root whose filesystem is not the one it was backed up from: nothing under it may be taken for deleted. */
export interface UnmountedRoot {
  root: string;
  error: string;
}

/**
 * Remembers, in `<stateDirectory>/roots.json`, the mount (mount point, source, type) each scan root lives on, and
 * reports a root whose mount has changed since: a filesystem that is not mounted leaves its (usually empty)
 * mount-point directory on the parent filesystem, and walking that as the root would record every file as
 * deleted. Such a root is reported and its remembered mount kept, so the check repeats until it is mounted again.
 * A root that moved on purpose is accepted after removing roots.json (it is a cache; it holds nothing else).
 */
export async function checkRootMounts(stateDirectory: string, roots: readonly string[], table?: MountTable): Promise<UnmountedRoot[]> {
  const file = join(stateDirectory, ROOT_MOUNTS_FILE);
  const mounts = table ?? (await MountTable.read());
  const remembered = await readRemembered(file);
  const problems: UnmountedRoot[] = [];
  let changed = false;
  for (const root of roots) {
    const now = mounts.mountOf(root);
    if (!now) continue;
    const before = remembered[root];
    if (before && (before.mountPoint !== now.mountPoint || before.source !== now.source || before.fsType !== now.fsType)) {
      problems.push({
        root,
        error: `not mounted: ${root} was on ${before.source} (${before.fsType}) mounted at ${before.mountPoint}, now it is on ${now.source} (${now.fsType}) at ${now.mountPoint}; mount it again, or remove ${file} if the root moved on purpose`,
      });
      continue;
    }
    if (!before) {
      remembered[root] = { mountPoint: now.mountPoint, source: now.source, fsType: now.fsType };
      changed = true;
    }
  }
  if (changed) {
    const temp = `${file}.tmp`;
    await writeFile(temp, `${JSON.stringify(remembered, null, 2)}\n`);
    await rename(temp, file);
  }
  return problems;
}

async function readRemembered(file: string): Promise<Record<string, RootMount>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if (isErrno(err, "ENOENT")) return {};
    throw err;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Record<string, RootMount>;
  } catch {
    // A damaged cache file is rebuilt below.
  }
  return {};
}
