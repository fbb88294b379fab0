// Test harness for real ZFS: Debian's zfs-fuse (userspace ZFS). Installs it when missing (as root), starts its
// daemon when it is not running, creates pools on file vdevs under temporary directories, and undoes everything it
// did: pools it created are destroyed, and the daemon is stopped (by PID) only if this harness started it and no
// other pool is imported (other test runs on this machine may be using it).
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, readFileSync, readdirSync } from "node:fs";
import { mkdtemp, rm, truncate, writeFile, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";

/** Result of {@link sh}. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command without a shell and collects its output. Never rejects for a non-zero exit. With `timeoutMs`, a
 * command still running then is killed and reported as code 124 (a zfs call into a wedged daemon never returns).
 */
export function sh(file: string, args: readonly string[], env?: NodeJS.ProcessEnv, timeoutMs?: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, [...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C", ...env } });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => ((timedOut = true), child.kill("SIGKILL")), timeoutMs);
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", (err) => (clearTimeout(timer), reject(err)));
    child.on("exit", () => {
      clearTimeout(timer);
      // A child stuck in a FUSE request cannot be reaped at once; do not wait for its pipes to close.
      if (timedOut) resolve({ code: 124, stdout, stderr: `${stderr}(timed out after ${timeoutMs} ms)` });
    });
    child.on("close", (code) => timedOut || resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** The fuse.zfs mounts of this namespace, as mountinfo lines. */
function fuseZfsMounts(): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((l) => / - fuse\.zfs /.test(l));
}

/** Set once this process recovered a wedged daemon: its pools are gone with it, so there is nothing to destroy. */
let recovered = false;

/**
 * Recovers from a wedged zfs-fuse (it has deadlocked now and then under heavy clone churn: every request, even `zfs list`,
 * blocks for ever): aborts the FUSE connections of its mounts so blocked callers get errors, kills the daemon,
 * lazily unmounts what it had mounted and removes its pidfile, so the next start begins clean. The test runner is
 * told through the file RTB_ZFS_WEDGE_MARK names (it runs a file again once when zfs-fuse wedged under it).
 */
async function recoverWedgedDaemon(pid: number | undefined, why: string): Promise<void> {
  recovered = true;
  const mark = process.env.RTB_ZFS_WEDGE_MARK;
  if (mark) appendFileSync(mark, `${why}\n`);
  const mounts = fuseZfsMounts();
  for (const line of mounts) {
    const [, , devno] = line.split(" ");
    const minor = devno?.split(":")[1];
    if (minor) await writeFile(`/sys/fs/fuse/connections/${minor}/abort`, "1").catch(() => undefined);
  }
  if (pid !== undefined && isZfsFuseProcess(pid)) process.kill(pid, "SIGKILL");
  await waitFor("the wedged zfs-fuse to exit", () => pid === undefined || !isZfsFuseProcess(pid), 30_000).catch(() => undefined);
  const points = mounts.map((l) => l.split(" ")[4]!.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  for (const point of points.sort().reverse()) await sh("umount", ["-l", point], undefined, 10_000);
  await unlink(PIDFILE).catch(() => undefined);
}

/**
 * For the test runner, after a file failed: if a zfs-fuse daemon runs but does not answer `zfs list` within 20 s, or
 * fuse.zfs mounts are left with no daemon behind them, recovers as {@link recoverWedgedDaemon} does, so one wedged
 * daemon does not hang every later file that touches the mount table (lsof stats every mount point). Returns what it
 * found and did, or undefined when all was well.
 */
export async function recoverIfWedged(): Promise<string | undefined> {
  const pid = runningDaemon();
  const mounts = fuseZfsMounts();
  if (pid === undefined) {
    if (mounts.length === 0) return undefined;
    await recoverWedgedDaemon(undefined, "fuse.zfs mounts left behind");
    return `${mounts.length} fuse.zfs mounts were left with no zfs-fuse behind them: unmounted`;
  }
  const zfs = findBinary("zfs");
  if (!zfs || (await sh(zfs, ["list", "-H", "-o", "name"], undefined, 20_000)).code !== 124) return undefined;
  await recoverWedgedDaemon(pid, "zfs list did not answer in 20 s");
  return `zfs-fuse (pid ${pid}) did not answer \`zfs list\` within 20 s: aborted its ${mounts.length} mounts and killed it`;
}

/** Runs a command and throws with its stderr when it fails. */
export async function must(file: string, args: readonly string[]): Promise<string> {
  const r = await sh(file, args);
  if (r.code !== 0) throw new Error(`${file} ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(50);
  }
}

function findBinary(name: string): string | undefined {
  for (const dir of ["/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin"]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

const PIDFILE = "/var/run/zfs-fuse.pid";
const poolsCreated = new Set<string>();

/** A usable zfs-fuse: its binaries, and how to undo what the harness started. */
export interface ZfsFuse {
  readonly zfs: string;
  readonly zpool: string;
  /** PID of the daemon this harness started, if it started one. */
  readonly startedPid: number | undefined;
  /** Stops the daemon if this harness started it and no pool it did not create is imported; waits for it to exit. */
  stop(): Promise<void>;
}

async function install(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("zfs-fuse is not installed and the tests are not running as root");
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const args = ["install", "-y", "-q", "-o", "DPkg::Lock::Timeout=600", "zfs-fuse"];
  let r = await sh("apt-get", args, env);
  if (r.code !== 0) {
    // A machine that never ran apt-get update has no package lists; update once and try again.
    await must("apt-get", ["update", "-q", "-o", "DPkg::Lock::Timeout=600"]);
    r = await sh("apt-get", args, env);
    if (r.code !== 0) throw new Error(`apt-get install zfs-fuse failed: ${r.stderr.trim()}`);
  }
}

function isZfsFuseProcess(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "zfs-fuse";
  } catch {
    return false;
  }
}

/** The PID of a running zfs-fuse daemon: its pidfile's, else found in /proc (`zfs-fuse -n` does not write one). */
export function runningDaemon(): number | undefined {
  try {
    const pid = Number(readFileSync(PIDFILE, "utf8").trim());
    if (Number.isInteger(pid) && isZfsFuseProcess(pid)) return pid;
  } catch {
    // no pidfile
  }
  const pids = readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
  return pids.find((pid) => pid !== process.pid && isZfsFuseProcess(pid));
}

/** Installs zfs-fuse if needed and makes sure its daemon answers. */
export async function ensureZfsFuse(): Promise<ZfsFuse> {
  if (!findBinary("zfs") || !findBinary("zpool") || !findBinary("zfs-fuse")) await install();
  const zfs = findBinary("zfs")!;
  const zpool = findBinary("zpool")!;
  const answers = async (): Promise<boolean> => (await sh(zfs, ["list", "-H", "-o", "name"], undefined, 20_000)).code === 0;

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  if (!(await answers())) {
    if (process.getuid?.() !== 0) throw new Error("the zfs-fuse daemon is not running and the tests are not root");
    const runningPid = runningDaemon();
    const running = runningPid !== undefined;
    if (
      running &&
      !(await waitFor("the running zfs-fuse daemon to answer", answers, 30_000).then(
        () => true,
        () => false,
      ))
    ) {
      // Running but not answering for 50 s: wedged (a test run that hung left it so). Start over.
      await recoverWedgedDaemon(runningPid, "a running zfs-fuse did not answer for 50 s");
    }
    if (running && (await answers())) {
      // Another run's daemon answers: use it.
    } else {
      // zfs-fuse refuses to start (exit 1, no message) over a stale pidfile.
      await unlink(PIDFILE).catch(() => undefined);
      recovered = false; // a new daemon: its pools are real again
      child = spawn(findBinary("zfs-fuse")!, ["-n", "--no-kstat-mount", "--pidfile", PIDFILE], {
        detached: true,
        stdio: "ignore",
      });
      let gone = false;
      exited = new Promise((resolve) => child!.once("exit", () => ((gone = true), resolve())));
      child.unref();
      // If another test run started a daemon at the same moment, ours exits 1 and theirs answers.
      await waitFor("zfs-fuse to answer `zfs list`", answers, 30_000);
      if (gone) child = undefined;
    }
  }
  const startedPid = child?.pid;
  const watchdog = watchForWedge(zfs);
  return {
    zfs,
    zpool,
    startedPid,
    async stop() {
      clearInterval(watchdog);
      if (startedPid === undefined || !child || recovered) return;
      const pools = (await sh(zpool, ["list", "-H", "-o", "name"])).stdout.split("\n").filter(Boolean);
      const foreign = pools.filter((p) => !poolsCreated.has(p));
      if (foreign.length) return; // someone else is using the daemon we started: leave it running.
      // The child was unref'd so a test never waits on it; while stopping it, it must hold the event loop, or a
      // slow exit lets the loop drain and the test process ends early, hiding the test's own result.
      child.ref();
      const gone = (ms: number) =>
        new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), ms);
          void exited.then(() => (clearTimeout(timer), resolve(true)));
        });
      // A daemon that already exited (zfs-fuse has been seen to die under load) has nothing left to stop; the
      // test's own result, not ESRCH from its clean-up, is what the run must report.
      const signal = (sig: NodeJS.Signals) => {
        try {
          process.kill(startedPid, sig);
          return true;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
          throw err;
        }
      };
      if (signal("SIGTERM") && !(await gone(30_000))) {
        signal("SIGKILL");
        if (!(await gone(30_000))) {
          child.unref();
          throw new Error(`zfs-fuse (pid ${startedPid}) did not exit within 60 s of SIGTERM and SIGKILL`);
        }
      }
      try {
        if (Number(readFileSync(PIDFILE, "utf8").trim()) === startedPid) await unlink(PIDFILE);
      } catch {
        // already gone
      }
    },
  };
}

/**
 * Probes the daemon every 10 s while a test runs. One that does not answer `zfs list` within 30 s has wedged: it is
 * recovered at once, so the test's blocked calls fail with errors now instead of hanging until the runner kills the
 * file (and leaving the wedged mounts to hang the files after it).
 */
function watchForWedge(zfs: string): NodeJS.Timeout {
  let probing = false;
  const timer = setInterval(() => {
    if (probing || recovered) return;
    probing = true;
    void sh(zfs, ["list", "-H", "-o", "name"], undefined, 30_000).then(async (r) => {
      probing = false;
      if (r.code !== 124 || recovered) return;
      process.stderr.write("zfs-fuse did not answer `zfs list` within 30 s: wedged; aborting its mounts and killing it\n");
      await recoverWedgedDaemon(runningDaemon(), "zfs list did not answer in 30 s during the test");
    });
  }, 10_000);
  return timer.unref();
}

/** A pool on a sparse file vdev in a temporary directory. */
export interface TestPool {
  readonly name: string;
  /** The temporary directory holding the vdev, the pool's mount point and anything else the test needs. */
  readonly dir: string;
  /** Mount point of the pool's root dataset. */
  readonly mountpoint: string;
  /** Destroys the pool (retrying "busy") and removes the directory. */
  destroy(): Promise<void>;
}

/** Creates a uniquely named pool (`-o cachefile=none`, so a crashed test's pool is not imported again at boot). */
export async function createTestPool(z: ZfsFuse, sizeMiB = 128): Promise<TestPool> {
  const dir = await mkdtemp(join(tmpdir(), "rtb-zfs-"));
  const name = `rtbt${process.pid}${randomBytes(3).toString("hex")}`;
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
    dir,
    mountpoint,
    async destroy() {
      let last: RunResult | undefined;
      const deadline = Date.now() + 15_000;
      for (;;) {
        // A daemon recovered from a wedge took its pools with it; one that wedges now is recovered here.
        if (recovered) last = { code: 0, stdout: "", stderr: "" };
        else last = await sh(z.zpool, ["destroy", "-f", name], undefined, 30_000);
        if (last.code === 124) await recoverWedgedDaemon(runningDaemon(), `zpool destroy ${name} did not answer in 30 s`);
        if (recovered || last.code === 0 || /no such pool/.test(last.stderr)) break;
        if (Date.now() > deadline) break;
        await delay(200);
      }
      if (!recovered && last.code !== 0 && !/no such pool/.test(last.stderr)) {
        // Leave the directory: removing it recursively would walk into the still-mounted pool.
        throw new Error(`zpool destroy ${name} failed: ${last.stderr.trim()}`);
      }
      poolsCreated.delete(name);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Undoes what a test made, even when a step fails: destroys its pool, then stops the daemon if the harness started
 * it, then runs `removeScratch` (its temporary directory) in any case.
 */
export async function releaseZfs(pool: TestPool | undefined, z: ZfsFuse | undefined, removeScratch: () => Promise<void>): Promise<void> {
  try {
    await pool?.destroy();
  } finally {
    try {
      await z?.stop();
    } finally {
      await removeScratch();
    }
  }
}
