import { isErrno } from "../errors.js";
import type { Parameters } from "../config/Parameters.js";
import { isUnder } from "../mounts/mountPaths.js";
import { checkRootMounts } from "../scan/rootMounts.js";
import { lstatSync } from "node:fs";
import { fsPath } from "../fsNames.js";
import { lstatPath } from "./FileReader.js";

/**
 * Whether `path` is gone from the live tree now: it does not exist (ENOENT, or a parent is no longer a directory)
 * while the root it lies under still exists and is still on the filesystem it was backed up from. A filesystem that
 * is not mounted leaves its empty mount-point directory behind, and nothing on it is gone; an unreadable path
 * (EACCES, EIO) is not gone either.
 *
 * The pipeline asks after each upload. An upload that reads a snapshot taken before the file was deleted or renamed
 * away may finish after that removal was recorded (a delete event taken in while the file waited for its writer),
 * or after a rescan of its directory ran while the path was not committed yet and so could not be found missing
 * (fanotify fd mode, where removals raise no event at all). Either way the older put would stay current in the index.
 */
export async function goneFromLiveTree(path: string, roots: () => Promise<string[]>, parameters: Parameters): Promise<boolean> {
  try {
    // Synchronous: a live path on a local disk, asked after every upload (a thread-pool trip costs more than the call).
    lstatSync(fsPath(path));
    return false;
  } catch (err) {
    if (!isErrno(err, "ENOENT", "ENOTDIR")) return false;
  }
  const root = (await roots()).filter((r) => isUnder(path, r)).sort((a, b) => b.length - a.length)[0];
  if (root === undefined || root === path) return false;
  const rootStats = await lstatPath(root).catch(() => undefined);
  if (!rootStats?.isDirectory()) return false;
  return (await checkRootMounts(parameters.remoteFileStateCachePath, [root])).length === 0;
}
