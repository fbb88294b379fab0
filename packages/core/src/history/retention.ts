import type { Version } from "./versions.js";

/**
 * Which versions to keep (docs/history.md "Retention"). Counts of 0 and a `keepWithin` of 0 keep nothing by that
 * rule; the current version of a path that exists is always kept. `keepDeleted` is how long after its deletion a
 * deleted file's versions are kept (Infinity: forever); past it they go whatever the other rules say.
 */
export interface RetentionPolicy {
  /** Keep every version visible at any moment of the last `keepWithin` ms. */
  readonly keepWithin: number;
  /** Keep the newest `keepLast` versions of each path. */
  readonly keepLast: number;
  /** Keep the version visible at the end of each of the last N hours, days, weeks (from Monday), months, years (local time). */
  readonly keepHourly: number;
  readonly keepDaily: number;
  readonly keepWeekly: number;
  readonly keepMonthly: number;
  readonly keepYearly: number;
  readonly keepDeleted: number;
}

/** The policy that keeps everything: nothing is forgotten until a rule is set. */
export const KEEP_EVERYTHING: RetentionPolicy = {
  keepWithin: Number.POSITIVE_INFINITY,
  keepLast: 0,
  keepHourly: 0,
  keepDaily: 0,
  keepWeekly: 0,
  keepMonthly: 0,
  keepYearly: 0,
  keepDeleted: Number.POSITIVE_INFINITY,
};

/** Why a version is kept: the first rule that keeps it. */
export type KeepReason = "current" | "within" | "last" | "hourly" | "daily" | "weekly" | "monthly" | "yearly" | "deleted-recently";

/** One version (a put or a move in) with the verdict of a policy. */
export interface Verdict {
  readonly version: Version;
  /** When the next event of the path replaced or deleted it (undefined: it is current). */
  readonly until: number | undefined;
  readonly keep: KeepReason | undefined;
}

/** The result of a policy over every version of every path: what stays and what goes, and deletes that stay. */
export interface RetentionPlan {
  readonly verdicts: Verdict[];
  /** Deletions kept in the history (their path has a kept version before them); the others go with their versions. */
  readonly deletions: Version[];
  readonly forgottenDeletions: Version[];
}

type Bucket = "hourly" | "daily" | "weekly" | "monthly" | "yearly";
const BUCKETS: readonly Bucket[] = ["hourly", "daily", "weekly", "monthly", "yearly"];
const countOf = (p: RetentionPolicy, b: Bucket) =>
  ({ hourly: p.keepHourly, daily: p.keepDaily, weekly: p.keepWeekly, monthly: p.keepMonthly, yearly: p.keepYearly })[b];

/** The start of the local-time bucket that holds `t`, moved `back` buckets earlier. */
export function bucketStart(t: number, bucket: Bucket, back = 0): number {
  const d = new Date(t);
  d.setMinutes(0, 0, 0);
  if (bucket === "hourly") {
    d.setHours(d.getHours() - back);
    return d.getTime();
  }
  d.setHours(0);
  if (bucket === "daily") d.setDate(d.getDate() - back);
  else if (bucket === "weekly") d.setDate(d.getDate() - ((d.getDay() + 6) % 7) - 7 * back);
  else if (bucket === "monthly") d.setMonth(d.getMonth() - back, 1);
  else d.setFullYear(d.getFullYear() - back, 0, 1);
  return d.getTime();
}

/**
 * The moments whose state a bucket rule keeps: the end of each of the last `n` buckets (the current bucket's end is
 * now), newest first. The version visible at each is kept, so a restore as of any of them is exact after a prune.
 */
export function bucketMoments(now: number, bucket: Bucket, n: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < n; k++) out.push(k === 0 ? now : bucketStart(now, bucket, k - 1) - 1);
  return out;
}

/**
 * Applies `policy` at `now` to `versions` (every version of every path, as {@link versionsOf} gives them, oldest
 * first). Per path, a version lives from its commit until the path's next event. It is kept when it is current
 * (the path exists and this is its version), when it was visible within `keepWithin` of now, when it is among the
 * newest `keepLast`, when it was visible at the end of one of the last N buckets of a bucket rule, or when it was the
 * last version before a deletion less than `keepDeleted` ago. A life of a path that ended in a deletion more than
 * `keepDeleted` ago goes whole, its deletion too. A deletion stays when a version before it in its life stays.
 */
export function planRetention(versions: readonly Version[], policy: RetentionPolicy, now: number): RetentionPlan {
  const byPath = new Map<string, Version[]>();
  for (const v of versions) {
    let list = byPath.get(v.path);
    if (!list) byPath.set(v.path, (list = []));
    list.push(v);
  }
  const moments = retentionMoments(policy, now);
  const plan: RetentionPlan = { verdicts: [], deletions: [], forgottenDeletions: [] };
  for (const list of byPath.values()) {
    const one = planPath(list, policy, now, moments);
    plan.verdicts.push(...one.verdicts);
    plan.deletions.push(...one.deletions);
    plan.forgottenDeletions.push(...one.forgottenDeletions);
  }
  return plan;
}

/** The moments each bucket rule of `policy` keeps the state of, at `now` ({@link bucketMoments}). */
export type RetentionMoments = readonly (readonly [Bucket, readonly number[]])[];

export function retentionMoments(policy: RetentionPolicy, now: number): RetentionMoments {
  return BUCKETS.map((b) => [b, bucketMoments(now, b, countOf(policy, b))] as const);
}

/** {@link planRetention} for the versions of one path (oldest first); a prune plans path after path this way. */
export function planPath(list: readonly Version[], policy: RetentionPolicy, now: number, moments: RetentionMoments): RetentionPlan {
  const verdicts: Verdict[] = [];
  const deletions: Version[] = [];
  const forgottenDeletions: Version[] = [];
  const puts = list.filter((v) => v.event !== "deleted");
  const newest = new Set(puts.slice(Math.max(0, puts.length - policy.keepLast)));
  const ends = lifeEnds(list);
  let life: Verdict[] = [];
  for (let i = 0; i < list.length; i++) {
    const v = list[i]!;
    if (v.event === "deleted") {
      (life.some((x) => x.keep) ? deletions : forgottenDeletions).push(v);
      verdicts.push(...life);
      life = [];
      continue;
    }
    const next = list[i + 1];
    const until = next?.time;
    const deletedAt = ends[i];
    const expired = deletedAt !== undefined && now - deletedAt > policy.keepDeleted;
    const visibleAt = (t: number) => v.time <= t && (until === undefined || until > t);
    let keep: KeepReason | undefined;
    if (expired) keep = undefined;
    else if (until === undefined) keep = "current";
    else if (until > now - policy.keepWithin) keep = "within";
    else if (newest.has(v)) keep = "last";
    else keep = moments.find(([, ms]) => ms.some(visibleAt))?.[0];
    if (!keep && !expired && next?.event === "deleted") keep = "deleted-recently";
    life.push({ version: v, until, keep });
  }
  verdicts.push(...life);
  return { verdicts, deletions, forgottenDeletions };
}

/** For each version, when the life of the path that holds it ended in a deletion (undefined: it goes on). */
function lifeEnds(list: readonly Version[]): (number | undefined)[] {
  const out: (number | undefined)[] = new Array<number | undefined>(list.length);
  let end: number | undefined;
  for (let i = list.length - 1; i >= 0; i--) {
    out[i] = end;
    if (list[i]!.event === "deleted") end = list[i]!.time;
  }
  return out;
}
