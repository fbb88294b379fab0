import { parseDuration } from "../config/duration.js";

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, y: 365 * 86_400_000 };
const SHORT = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w|y)$/;

/** What {@link parsePeriod} accepts, for messages. */
export const PERIOD_FORMS = "a period such as 24h, 30d, 2w, 1y (s, m, h, d, w, y) or an xs:duration such as P30D or PT12H";

/**
 * A retention period in ms: `24h`, `30d`, `2w`, `1y` (a year is 365 days), an xs:duration of any length (`P30D`,
 * `PT12H`; months count 30 days, as in the rest of the configuration), or `forever` (Infinity) when allowed.
 * Undefined when it is none of these.
 */
export function parsePeriod(text: string, allowForever = false): number | undefined {
  const t = text.trim();
  if (allowForever && t.toLowerCase() === "forever") return Number.POSITIVE_INFINITY;
  const short = SHORT.exec(t);
  if (short) return Math.round(Number(short[1]) * UNIT_MS[short[2]!]!);
  try {
    return parseDuration(t);
  } catch {
    return undefined;
  }
}

/** A period as people write it (the largest unit that divides it, or `forever`). */
export function formatPeriod(ms: number): string {
  if (ms === Number.POSITIVE_INFINITY) return "forever";
  for (const unit of ["y", "w", "d", "h", "m", "s"]) if (ms > 0 && ms % UNIT_MS[unit]! === 0) return `${ms / UNIT_MS[unit]!}${unit}`;
  return `${ms / 1000}s`;
}
