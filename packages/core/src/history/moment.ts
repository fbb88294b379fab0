/** Units of `N <unit> ago`, by every name accepted, in ms (months and years are calendar steps, see below). */
const UNITS: Record<string, number | "month" | "year"> = {};
const unit = (ms: number | "month" | "year", ...names: string[]) => names.forEach((n) => (UNITS[n] = ms));
unit(1000, "s", "sec", "secs", "second", "seconds");
unit(60_000, "m", "min", "mins", "minute", "minutes");
unit(3_600_000, "h", "hr", "hrs", "hour", "hours");
unit(86_400_000, "d", "day", "days");
unit(7 * 86_400_000, "w", "week", "weeks");
unit("month", "mo", "month", "months");
unit("year", "y", "yr", "yrs", "year", "years");

const AGO = /^(\d+(?:\.\d+)?)\s*([a-z]+)\s+ago$/;

/** The forms {@link parseMoment} accepts, for error messages and help. */
export const MOMENT_FORMS =
  'an ISO date/time (2026-01-31T12:00:00Z, 2026-01-31), ms since the epoch, "now", "today", "yesterday" or "N units ago" (30s, 10m, 2h, 3 days, 1 week, 6 months, 1 year)';

/**
 * A moment from how a person or a listing writes one: an ISO 8601 date/time as `rtb log` and `rtb versions` print
 * them (a date alone is midnight UTC, as `Date.parse` reads it), ms since the epoch, `now`, `today` and `yesterday`
 * (local midnight), or `N <unit> ago` (`2h ago`, `3 days ago`; months and years go back on the calendar, clamped to
 * the month's last day). Undefined when `text` is none of these.
 */
export function parseMoment(text: string, now: number = Date.now()): number | undefined {
  const t = text.trim().toLowerCase();
  if (/^\d+$/.test(t)) return Number(t);
  if (t === "now") return now;
  if (t === "today" || t === "yesterday") {
    const d = new Date(now);
    d.setHours(0, 0, 0, 0);
    if (t === "yesterday") d.setDate(d.getDate() - 1);
    return d.getTime();
  }
  const ago = AGO.exec(t);
  if (ago) {
    const n = Number(ago[1]);
    const step = UNITS[ago[2]!];
    if (step === undefined) return undefined;
    if (typeof step === "number") return Math.round(now - n * step);
    if (!Number.isInteger(n)) return undefined;
    return calendarBack(now, step === "year" ? 12 * n : n);
  }
  const ms = Date.parse(text.trim());
  return Number.isFinite(ms) ? ms : undefined;
}

/** `now` moved `months` back on the local calendar, the day clamped to the target month's length (Mar 31 − 1 month = Feb 28/29). */
function calendarBack(now: number, months: number): number {
  const d = new Date(now);
  const day = d.getDate();
  d.setDate(1);
  d.setMonth(d.getMonth() - months);
  const last = new Date(d.getFullYear(), d.getMonth() + 1, 0).getDate();
  d.setDate(Math.min(day, last));
  return d.getTime();
}
