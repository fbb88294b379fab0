// Real ZFS for the end-to-end test: Debian's zfs-fuse, the same approach as plugin-zfs's test harness. Installs it
// when missing (as root), starts its daemon when it does not answer, creates uniquely named pools on sparse file vdevs
// with `-o cachefile=none` (never re-imported at boot), and undoes all of it: pools it created are destroyed, and the
// daemon is stopped (by PID) only if this harness started it and no pool it did not create is imported.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, truncate, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { must, run, waitFor, type RunResult } from "./e2e.js";

const PIDFILE = "/var/run/zfs-fuse.pid";
const poolsCreated = new Set<string>();

function findBinary(name: string): string | undefined {
  for (const dir of ["/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin"]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

function isZfsFuseProcess(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "zfs-fuse";
  } catch {
    return false;
  }
}

async function installZfsFuse(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("zfs-fuse is not installed and the tests are not running as root");
  const args = ["install", "-y", "-q", "-o", "DPkg::Lock::Timeout=600", "zfs-fuse"];
  process.env.DEBIAN_FRONTEND = "noninteractive";
  let r = await run("apt-get", args, { timeoutMs: 600_000 });
  if (r.code !== 0) {
    // A machine that never ran apt-get update has no package lists: update once and try again.
    await must("apt-get", ["update", "-q", "-o", "DPkg::Lock::Timeout=600"]);
    r = await run("apt-get", args, { timeoutMs: 600_000 });
    if (r.code !== 0) throw new Error(`apt-get install zfs-fuse failed: ${r.stderr.trim()}`);
  }
}

/** A usable zfs-fuse: its binaries, and how to undo what the harness started. */
export interface ZfsFuse {
  readonly zfs: string;
  readonly zpool: string;
  /** Stops the daemon if this harness started it and no pool it did not create is imported; waits for its exit. */
  stop(): Promise<void>;
}

/** Installs zfs-fuse if needed and makes sure its daemon answers `zfs list`. */
export async function ensureZfsFuse(): Promise<ZfsFuse> {
  if (!findBinary("zfs") || !findBinary("zpool") || !findBinary("zfs-fuse")) await installZfsFuse();
  const zfs = findBinary("zfs")!;
  const zpool = findBinary("zpool")!;
  const answers = async (): Promise<boolean> => (await run(zfs, ["list", "-H", "-o", "name"])).code === 0;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  if (!(await answers())) {
    if (process.getuid?.() !== 0) throw new Error("the zfs-fuse daemon is not running and the tests are not root");
    let pidfilePid = NaN;
    try {
      pidfilePid = Number(readFileSync(PIDFILE, "utf8").trim());
    } catch {
      // no pidfile: nobody started one
    }
    if (Number.isInteger(pidfilePid) && isZfsFuseProcess(pidfilePid)) {
      await waitFor("the running zfs-fuse daemon to answer", answers, 30_000);
    } else {
      // zfs-fuse refuses to start (exit 1, no message) over a stale pidfile.
      await unlink(PIDFILE).catch(() => undefined);
      child = spawn(findBinary("zfs-fuse")!, ["-n", "--no-kstat-mount", "--pidfile", PIDFILE], { detached: true, stdio: "ignore" });
      let gone = false;
      exited = new Promise((resolve) => child!.once("exit", () => ((gone = true), resolve())));
      child.unref();
      // If another test run started a daemon at the same moment, ours exits 1 and theirs answers.
      await waitFor("zfs-fuse to answer `zfs list`", answers, 30_000);
      if (gone) child = undefined;
    }
  }
  const startedPid = child?.pid;
  return {
    zfs,
    zpool,
    async stop() {
      if (startedPid === undefined) return;
      const pools = (await run(zpool, ["list", "-H", "-o", "name"])).stdout.split("\n").filter(Boolean);
      if (pools.some((p) => !poolsCreated.has(p))) return; // someone else uses the daemon we started: leave it.
      process.kill(startedPid, "SIGTERM");
      const killTimer = setTimeout(() => isZfsFuseProcess(startedPid) && process.kill(startedPid, "SIGKILL"), 30_000);
      await exited;
      clearTimeout(killTimer);
      try {
        if (Number(readFileSync(PIDFILE, "utf8").trim()) === startedPid) await unlink(PIDFILE);
      } catch {
        // already gone
      }
    },
  };
}

/** A pool on a sparse file vdev in a temporary directory. */
export interface TestPool {
  readonly name: string;
  /** Mount point of the pool's root dataset. */
  readonly mountpoint: string;
  /** Destroys the pool (retrying "busy") and removes its directory. */
  destroy(): Promise<void>;
}

/** Creates a uniquely named pool (`-o cachefile=none`). */
export async function createTestPool(z: ZfsFuse, sizeMiB = 192): Promise<TestPool> {
  const dir = await mkdtemp(join(tmpdir(), "rtb-e2e-zfs-"));
  const name = `rtbe2e${process.pid}${randomBytes(3).toString("hex")}`;
  const vdev = join(dir, "vdev");
  const mountpoint = join(dir, "mnt");
  await writeFile(vdev, "");
  await truncate(vdev, sizeMiB * 1024 * 1024);
  try {
    await must(z.zpool, ["create", "-o", "cachefile=none", "-m", mountpoint, name, vdev]);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  poolsCreated.add(name);
  return {
    name,
    mountpoint,
    async destroy() {
      let last: RunResult | undefined;
      const deadline = Date.now() + 20_000;
      for (;;) {
        last = await run(z.zpool, ["destroy", "-f", name]);
        if (last.code === 0 || /no such pool/.test(last.stderr) || Date.now() > deadline) break;
        await delay(200);
      }
      if (last.code !== 0 && !/no such pool/.test(last.stderr)) {
        // Leave the directory: removing it recursively would walk into the still-mounted pool.
        throw new Error(`zpool destroy ${name} failed: ${last.stderr.trim()}`);
      }
      poolsCreated.delete(name);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
