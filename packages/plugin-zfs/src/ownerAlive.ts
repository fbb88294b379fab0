import { readFileSync } from "node:fs";
import type { SnapshotOwner } from "./SnapshotNaming.js";

// USER_HZ, the unit of /proc/<pid>/stat's start time, is 100 on every Linux architecture Node runs on.
const TICKS_PER_SECOND = 100;
// The boot time in /proc/stat has one-second resolution.
const TOLERANCE_MS = 2000;

let bootTimeMs: number | undefined;

function bootTime(): number {
  if (bootTimeMs === undefined) {
    const m = /^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"));
    bootTimeMs = m ? Number(m[1]) * 1000 : 0;
  }
  return bootTimeMs;
}

/**
 * Whether the process that made a snapshot of ours (on this host) may still be running: a process with that pid
 * exists and started before the snapshot was made. A process that started later only reuses the pid (after a crash
 * or a reboot), so the snapshot is stale. Reads `/proc`; unit tests inject their own.
 */
export function ownerAlive(owner: SnapshotOwner): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${owner.pid}/stat`, "utf8");
  } catch {
    return false;
  }
  // Field 22 (starttime) counts from after the parenthesised command name, which may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const startTicks = Number(fields[19]);
  if (!Number.isFinite(startTicks)) return true;
  const startedAt = bootTime() + (startTicks * 1000) / TICKS_PER_SECOND;
  return startedAt <= owner.createdAt + TOLERANCE_MS;
}
