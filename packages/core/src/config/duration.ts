const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// xs:duration without a sign: at least one component, and at least one after `T`; only seconds may have a fraction.
const DURATION = /^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/**
 * Parses an xs:duration / ISO-8601 duration (`PT30S`, `PT0.5S`, `P1DT2H`, `PT10M`) into milliseconds, rounded to
 * the nearest millisecond. As .NET's `XmlConvert.ToTimeSpan` does, a year counts 365 days and a month 30 days;
 * surrounding whitespace is ignored. Throws a `RangeError` for a negative duration and a `SyntaxError` for
 * anything else that is not a duration (`PT5X`, `P`, `PT`, `5s`).
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (trimmed.startsWith("-P")) throw new RangeError("negative durations are not allowed");
  const match = DURATION.exec(trimmed);
  if (!match) throw new SyntaxError("not an xs:duration");
  const [, years, months, days, hours, minutes, seconds] = match;
  const n = (s: string | undefined) => (s === undefined ? 0 : Number(s));
  const ms = (n(years) * 365 + n(months) * 30 + n(days)) * DAY + n(hours) * HOUR + n(minutes) * MINUTE + n(seconds) * SECOND;
  const rounded = Math.round(ms);
  if (!Number.isSafeInteger(rounded)) throw new RangeError("duration too large");
  return rounded;
}

/**
 * Writes milliseconds as an xs:duration the way .NET does (`PT4S`, `PT0.5S`, `PT6H`, `P1DT2H`, `PT0S`), so that
 * {@link parseDuration} reads it back to the same value. Throws a `RangeError` for negative or non-finite input.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`cannot write ${ms} ms as a duration`);
  let rest = ms;
  const days = Math.floor(rest / DAY);
  rest -= days * DAY;
  const hours = Math.floor(rest / HOUR);
  rest -= hours * HOUR;
  const minutes = Math.floor(rest / MINUTE);
  rest -= minutes * MINUTE;
  // Seconds to 7 decimals (100 ns, .NET's tick), which also hides floating-point noise.
  const seconds = Math.round(rest * 1e4) / 1e7;
  const secondsText = seconds ? `${seconds.toFixed(7).replace(/\.?0+$/, "")}S` : "";
  const time = `${hours ? `${hours}H` : ""}${minutes ? `${minutes}M` : ""}${secondsText}`;
  const text = `P${days ? `${days}D` : ""}${time ? `T${time}` : ""}`;
  return text === "P" ? "PT0S" : text;
}
