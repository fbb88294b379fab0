import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** True when `command` is on PATH. */
export function hasCommand(command: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Installs a Debian package when `command` is missing (tests run as root on Debian). */
export function ensureCommand(command: string, debianPackage: string): void {
  if (hasCommand(command)) return;
  execFileSync("apt-get", ["install", "-y", "-q", debianPackage], { stdio: "ignore" });
  if (!hasCommand(command)) throw new Error(`${command} is still missing after apt-get install ${debianPackage}`);
}

/** Mounts a fresh tmpfs on a new temporary directory, runs `fn`, and unmounts and removes it even on failure. */
export async function withTmpfs<T>(fn: (mountPoint: string) => Promise<T>, size = "64m"): Promise<T> {
  const base = mkdtempSync(join(tmpdir(), "rtb-fan-"));
  const mountPoint = join(base, "mnt");
  mkdirSync(mountPoint);
  let mounted = false;
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "rtb-fanotify-test", mountPoint]);
    mounted = true;
    return await fn(mountPoint);
  } finally {
    if (mounted) execFileSync("umount", ["-l", mountPoint]);
    rmSync(base, { recursive: true, force: true });
  }
}

/**
 * Makes an ext4 filesystem in an image file, attaches it to a loop device (losetup), mounts it, runs `fn`, then
 * unmounts, detaches and deletes everything even on failure.
 */
export async function withExt4<T>(fn: (mountPoint: string) => Promise<T>): Promise<T> {
  ensureCommand("mkfs.ext4", "e2fsprogs");
  ensureCommand("losetup", "util-linux");
  const base = mkdtempSync(join(tmpdir(), "rtb-fan-ext4-"));
  const image = join(base, "fs.img");
  const mountPoint = join(base, "mnt");
  mkdirSync(mountPoint);
  let device: string | undefined;
  let mounted = false;
  try {
    execFileSync("truncate", ["-s", "64M", image]);
    execFileSync("mkfs.ext4", ["-q", "-F", image], { stdio: "ignore" });
    device = execFileSync("losetup", ["--find", "--show", image], { encoding: "utf8" }).trim();
    execFileSync("mount", ["-t", "ext4", device, mountPoint]);
    mounted = true;
    return await fn(mountPoint);
  } finally {
    if (mounted) execFileSync("umount", [mountPoint]);
    if (device) execFileSync("losetup", ["-d", device]);
    rmSync(base, { recursive: true, force: true });
  }
}

/** Bind-mounts `source` on a new temporary directory for the duration of `fn`. */
export async function withBind<T>(source: string, fn: (target: string) => Promise<T>): Promise<T> {
  const base = mkdtempSync(join(tmpdir(), "rtb-fan-bind-"));
  let mounted = false;
  try {
    execFileSync("mount", ["--bind", source, base]);
    mounted = true;
    return await fn(base);
  } finally {
    if (mounted) execFileSync("umount", [base]);
    rmSync(base, { recursive: true, force: true });
  }
}
