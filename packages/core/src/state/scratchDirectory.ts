import { randomBytes } from "node:crypto";
import { chmodSync, lstatSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { processAlive } from "./lock.js";

/**
 * A new directory `<kind>-<pid>-<random>` under `root` (made 0700 if absent) for a scratch store that holds
 * decrypted index data and lives only as long as this process uses it. Those of the same kind that a process no
 * longer running left (killed, or crashed) are removed first.
 */
export function openScratchDirectory(root: string, kind: string): string {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  removeStaleScratch(root, kind);
  const directory = join(root, `${kind}-${process.pid}-${randomBytes(4).toString("hex")}`);
  mkdirSync(directory, { mode: 0o700 });
  const st = lstatSync(directory);
  if ((st.mode & 0o077) !== 0) chmodSync(directory, 0o700);
  return directory;
}

/** Removes the scratch directories of `kind` under `root` whose process is gone. */
export function removeStaleScratch(root: string, kind: string): void {
  const pattern = new RegExp(`^${kind}-(\\d+)-[0-9a-f]{8}$`);
  for (const name of readdirSync(root)) {
    const pid = pattern.exec(name)?.[1];
    if (pid === undefined || processAlive(Number(pid))) continue;
    try {
      rmSync(join(root, name), { recursive: true, force: true });
    } catch {
      // Another user's, in a shared directory: theirs to remove.
    }
  }
}
