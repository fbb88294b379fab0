import { formatBytes } from "./formatBytes.js";

/** What a progress line shows. */
export interface ProgressSnapshot {
  /** What is going on: `scanning`, `uploading`, `restoring`. */
  phase: string;
  /** The counters, shown as they are (`12 files, 1.5 MiB read`). */
  counters: string;
  /** Work done so far, once the total is known: the line then shows a percentage and an ETA. */
  done?: number;
  /** The whole work (same unit as `done`). */
  total?: number;
  /** `bytes` shows done/total as sizes; default `items` shows them as counts. */
  unit?: "bytes" | "items";
}

/** A duration for a progress line: `7s`, `3m05s`, `2h04m`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * Time left, from the rate since the total became known (`first`, the sample taken then) to now: undefined while
 * nothing was done since, 0 once everything is.
 */
export function estimateRemainingMs(first: { atMs: number; done: number }, now: { atMs: number; done: number }, total: number): number | undefined {
  if (now.done >= total) return 0;
  const done = now.done - first.done;
  const ms = now.atMs - first.atMs;
  if (done <= 0 || ms <= 0) return undefined;
  return ((total - now.done) * ms) / done;
}

/**
 * The text of one progress line: `phase: [42% (done/total), ]counters[, ETA 1m05s], elapsed`. The percentage is
 * rounded down (it says 100% only when everything is done) and the ETA shows `--` until there is a rate.
 */
export function formatProgress(s: ProgressSnapshot, elapsedMs: number, remainingMs: number | undefined): string {
  const parts: string[] = [];
  if (s.total !== undefined && s.done !== undefined) {
    const done = Math.min(s.done, s.total);
    const pct = s.total > 0 ? Math.floor((done * 100) / s.total) : 100;
    const of = s.unit === "bytes" ? `${formatBytes(done)}/${formatBytes(s.total)}` : `${done}/${s.total}`;
    parts.push(`${pct}% (${of})`);
  }
  if (s.counters) parts.push(s.counters);
  if (s.total !== undefined && s.done !== undefined) parts.push(`ETA ${remainingMs === undefined ? "--" : formatDuration(remainingMs)}`);
  parts.push(formatDuration(elapsedMs));
  return `${s.phase}: ${parts.join(", ")}`;
}
