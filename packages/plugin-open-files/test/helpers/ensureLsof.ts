import { execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";

const LSOF = "/usr/bin/lsof";

/**
 * The path of lsof, installing Debian's package first when it is missing and we are root (CI installs it too).
 * Throws with the reason when it cannot be had: the lsof tests must not pass without lsof.
 */
export function ensureLsof(): string {
  if (isExecutable(LSOF)) return LSOF;
  if (process.getuid?.() !== 0) throw new Error(`${LSOF} is missing and only root can install it (apt-get install lsof)`);
  console.log(`lsof missing: running apt-get install -y lsof`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  try {
    execFileSync("apt-get", ["install", "-y", "lsof"], { stdio: "inherit", env });
  } catch {
    execFileSync("apt-get", ["update"], { stdio: "inherit", env });
    execFileSync("apt-get", ["install", "-y", "lsof"], { stdio: "inherit", env });
  }
  if (!isExecutable(LSOF)) throw new Error(`apt-get install lsof did not provide ${LSOF}`);
  return LSOF;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
