/** How many snapshots of each class to keep. */
export interface RetentionPolicy {
  /** The newest snapshots, whatever their age. */
  readonly frequent: number;
  /** One per clock hour (UTC), for the newest this many hours that have one. */
  readonly hourly: number;
  /** One per day (UTC). */
  readonly daily: number;
  /** One per ISO week (Monday to Sunday, UTC). */
  readonly weekly: number;
}

/** A snapshot the policy decides about. */
export interface DatedSnapshot {
  readonly name: string;
  /** Creation time, ms since the epoch. */
  readonly createdAt: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// 1970-01-01 was a Thursday: shifting by 3 days makes week buckets start on Mondays.
const MONDAY_SHIFT = 3 * DAY;

const periods: Array<[keyof RetentionPolicy, (t: number) => number]> = [
  ["hourly", (t) => Math.floor(t / HOUR)],
  ["daily", (t) => Math.floor(t / DAY)],
  ["weekly", (t) => Math.floor((t + MONDAY_SHIFT) / (7 * DAY))],
];

/**
 * The names of the snapshots to keep under `policy`, as grandfather-father-son schemes do: the `frequent` newest,
 * plus, for each of hourly/daily/weekly, the oldest snapshot of each of the newest N periods that have one (the
 * snapshot taken at the start of an hour, day or week stays its representative as newer ones arrive). Everything
 * else may be destroyed. Pure: the caller passes the snapshots and acts on the answer.
 */
export function selectRetained(snapshots: readonly DatedSnapshot[], policy: RetentionPolicy): Set<string> {
  const newestFirst = [...snapshots].sort((a, b) => b.createdAt - a.createdAt || (a.name < b.name ? 1 : -1));
  const keep = new Set(newestFirst.slice(0, policy.frequent).map((s) => s.name));
  for (const [kind, bucketOf] of periods) {
    const oldestPerBucket = new Map<number, DatedSnapshot>();
    // Walking newest first, the last write for a bucket is its oldest snapshot; Map keeps first-seen (newest) order.
    for (const s of newestFirst) oldestPerBucket.set(bucketOf(s.createdAt), s);
    let n = 0;
    for (const s of oldestPerBucket.values()) {
      if (n++ >= policy[kind]) break;
      keep.add(s.name);
    }
  }
  return keep;
}
