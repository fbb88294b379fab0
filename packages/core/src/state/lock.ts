import { open, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { BackupError, isErrno } from "../errors.js";

/** A held lock; `release()` removes it. */
export interface Lock {
  readonly path: string;
  release(): Promise<void>;
}

/** Whether process `pid` is running (one of another user's counts). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return isErrno(err, "EPERM");
  }
}

/**
 * Takes the one-instance lock of a state directory: a `lock` file holding our PID, created exclusively. A lock
 * left by a dead process is taken over; one held by a live process is a LOCKED error naming it.
 */
export async function acquireLock(directory: string): Promise<Lock> {
  const path = join(directory, "lock");
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, "wx", 0o644);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return {
        path,
        async release() {
          await unlink(path).catch(() => undefined);
        },
      };
    } catch (err) {
      if (!isErrno(err, "EEXIST")) throw err;
      const pid = Number((await readFile(path, "utf8").catch(() => "")).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new BackupError("LOCKED", `another rtb process (PID ${pid}) is using the state directory ${directory}`);
      }
      await unlink(path).catch(() => undefined);
    }
  }
  throw new BackupError("LOCKED", `could not take the lock ${path}`);
}
