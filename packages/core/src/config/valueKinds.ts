import { isIP } from "node:net";
import { isAbsolute, posix, resolve } from "node:path";
import { formatDuration, parseDuration } from "./duration.js";
import { PERIOD_FORMS, formatPeriod, parsePeriod } from "../history/period.js";

/** Thrown by a {@link ValueKind} for a bad value; `expected` completes "expected ...". */
export class BadValue extends Error {
  constructor(readonly expected: string) {
    super(expected);
  }
}

/** Where a value comes from: XML text, or a JS/JSON/YAML value whose relative paths resolve against `baseDir`. */
export interface ValueSource {
  readonly baseDir?: string | undefined;
}

/**
 * How one setting is read and written. `fromText` reads XML element text (always a string); `fromValue` reads a
 * JS/JSON/YAML value (typed); `toText` writes the XML text back. Both readers throw {@link BadValue}.
 */
export interface ValueKind<T> {
  fromText(text: string): T;
  fromValue(value: unknown, source: ValueSource): T;
  toText(value: T): string;
}

/** How a bad value is shown in a message: quoted and shortened, or not at all for secrets. */
export function showValue(value: unknown, secret: boolean): string {
  if (secret) return "a value that is not shown because it is a secret";
  if (value === undefined) return "nothing";
  let text: string;
  if (typeof value === "string") text = JSON.stringify(value);
  else if (typeof value === "function") text = "a function";
  else if (typeof value === "bigint") text = `${value}n`;
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function orList(values: readonly string[]): string {
  return values.length <= 1 ? (values[0] ?? "") : `${values.slice(0, -1).join(", ")} or ${values[values.length - 1]}`;
}

/** Any string. */
export const textKind: ValueKind<string> = {
  fromText: (text) => text,
  fromValue(value) {
    if (typeof value !== "string") throw new BadValue("a string");
    return value;
  },
  toText: (value) => value,
};

/** One of fixed, case-sensitive words. */
export function enumKind<T extends string>(values: readonly T[]): ValueKind<T> {
  const expected = orList(values);
  const check = (value: unknown): T => {
    if (typeof value !== "string" || !(values as readonly string[]).includes(value.trim())) throw new BadValue(expected);
    return value.trim() as T;
  };
  return { fromText: check, fromValue: check, toText: (value) => value };
}

/** A boolean: `true`, `false`, `1`, `0` in XML (as .NET's XmlConvert), a real boolean elsewhere. */
export const booleanKind: ValueKind<boolean> = {
  fromText(text) {
    const t = text.trim();
    if (t === "true" || t === "1") return true;
    if (t === "false" || t === "0") return false;
    throw new BadValue("true, false, 1 or 0");
  },
  fromValue(value) {
    if (typeof value !== "boolean") throw new BadValue("true or false");
    return value;
  },
  toText: (value) => (value ? "true" : "false"),
};

/** A whole number in `[min, max]`; `unit` (e.g. "bytes") is named in the message. */
export function integerKind(min: number, max: number = Number.MAX_SAFE_INTEGER, unit?: string): ValueKind<number> {
  const what = unit ? `a whole number of ${unit}` : "a whole number";
  const expected = max === Number.MAX_SAFE_INTEGER ? `${what} of at least ${min}` : `${what} from ${min} to ${max}`;
  const check = (n: number): number => {
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new BadValue(expected);
    return n;
  };
  return {
    fromText(text) {
      if (!/^\s*[+-]?\d+\s*$/.test(text)) throw new BadValue(expected);
      return check(Number(text));
    },
    fromValue(value) {
      if (typeof value !== "number") throw new BadValue(expected);
      return check(value);
    },
    toText: (value) => String(value),
  };
}

/** Longest wait a Node.js timer can do (2^31 - 1 ms, about 24.8 days); longer ones would fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A duration in milliseconds: an xs:duration in XML (`PT30S`); a number of milliseconds or an xs:duration string
 * elsewhere. `positive` refuses zero. At most {@link MAX_TIMER_MS}.
 */
export function durationKind(positive: boolean): ValueKind<number> {
  const textExpected = `${positive ? "a positive" : "an"} xs:duration such as PT30S, PT0.5S, PT10M or P1DT2H (at most 24 days)`;
  const valueExpected = `${positive ? "a positive" : "a"} number of milliseconds or an xs:duration string such as "PT30S" (at most 24 days)`;
  const check = (ms: number, expected: string): number => {
    if (!Number.isFinite(ms) || ms < 0 || ms > MAX_TIMER_MS || (positive && ms === 0)) throw new BadValue(expected);
    return ms;
  };
  const parse = (text: string, expected: string): number => {
    try {
      return check(parseDuration(text), expected);
    } catch (err) {
      if (err instanceof BadValue) throw err;
      throw new BadValue(err instanceof RangeError && text.trim().startsWith("-") ? `${expected}; negative durations are not allowed` : expected);
    }
  };
  return {
    fromText: (text) => parse(text, textExpected),
    fromValue(value) {
      if (typeof value === "number") return check(value, valueExpected);
      if (typeof value === "string") return parse(value, valueExpected);
      throw new BadValue(valueExpected);
    },
    toText: (value) => formatDuration(value),
  };
}

function normalizePath(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

/**
 * A filesystem path. XML needs an absolute path (it has no directory to be relative to); a JS/JSON/YAML config
 * resolves a relative path against its own directory. `allowEmpty` accepts "" (meaning "none").
 */
export function pathKind(allowEmpty = false): ValueKind<string> {
  const expected = allowEmpty ? "an absolute path, or nothing" : "an absolute path";
  return {
    fromText(text) {
      const t = text.trim();
      if (t === "" && allowEmpty) return "";
      if (!isAbsolute(t) || t.includes("\0")) throw new BadValue(expected);
      return normalizePath(t);
    },
    fromValue(value, source) {
      // Without a directory to resolve against (options given in code), only an absolute path will do.
      const anyPath = source.baseDir === undefined ? expected : allowEmpty ? "a path, or an empty string" : "a path";
      if (typeof value !== "string" || value.includes("\0")) throw new BadValue(anyPath);
      if (value === "" && allowEmpty) return "";
      if (value === "") throw new BadValue(anyPath);
      if (isAbsolute(value)) return normalizePath(value);
      if (source.baseDir === undefined) throw new BadValue(expected);
      return resolve(source.baseDir, value);
    },
    toText: (value) => value,
  };
}

/** A program: an absolute path, or a bare command name looked up in PATH. */
export const commandKind: ValueKind<string> = {
  fromText(text) {
    const t = text.trim();
    if (t === "" || (!isAbsolute(t) && t.includes("/"))) throw new BadValue("an absolute path or a command name");
    return t.includes("/") ? normalizePath(t) : t;
  },
  fromValue(value, source) {
    if (typeof value !== "string" || value === "") throw new BadValue("a path or a command name");
    if (!value.includes("/")) return value;
    if (isAbsolute(value)) return normalizePath(value);
    if (source.baseDir === undefined) throw new BadValue("an absolute path or a command name");
    return resolve(source.baseDir, value);
  },
  toText: (value) => value,
};

/** An IPv4 or IPv6 address (as .NET's IPAddress.Parse). */
export const ipAddressKind: ValueKind<string> = {
  fromText(text) {
    const t = text.trim();
    if (isIP(t) === 0) throw new BadValue("an IPv4 or IPv6 address such as 127.0.0.1");
    return t;
  },
  fromValue(value) {
    if (typeof value !== "string" || isIP(value) === 0) throw new BadValue("an IPv4 or IPv6 address such as 127.0.0.1");
    return value;
  },
  toText: (value) => value,
};

/** An http(s) URL, or nothing. */
export const urlKind: ValueKind<string> = {
  fromText: (text) => checkUrl(text.trim()),
  fromValue(value) {
    if (typeof value !== "string") throw new BadValue("an http:// or https:// URL");
    return checkUrl(value);
  },
  toText: (value) => value,
};

function checkUrl(text: string): string {
  if (text === "") return "";
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BadValue("an http:// or https:// URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new BadValue("an http:// or https:// URL");
  return text;
}

/** A string matching `pattern`, described by `expected`. */
export function patternKind(pattern: RegExp, expected: string): ValueKind<string> {
  const check = (value: unknown): string => {
    if (typeof value !== "string" || !pattern.test(value)) throw new BadValue(expected);
    return value;
  };
  return { fromText: (text) => check(text.trim()), fromValue: check, toText: (value) => value };
}

/** A key prefix inside a bucket: relative, `/`-separated, no empty, `.` or `..` segments (a trailing `/` is fine). */
export const keyPrefixKind: ValueKind<string> = {
  fromText: (text) => checkPrefix(text.trim()),
  fromValue(value) {
    if (typeof value !== "string") throw new BadValue("a key prefix such as hosts/visor/");
    return checkPrefix(value);
  },
  toText: (value) => value,
};

function checkPrefix(text: string): string {
  if (text === "") return "";
  const segments = (text.endsWith("/") ? text.slice(0, -1) : text).split("/");
  if (segments.some((s) => s === "" || s === "." || s === ".." || /[\u0000-\u001f\u007f\\]/.test(s))) {
    throw new BadValue("a key prefix such as hosts/visor/ (no leading /, no empty, . or .. segments)");
  }
  return text;
}

/**
 * A retention period (docs/history.md): `24h`, `30d`, `1y` or an xs:duration of any length (`P30D`), `0` for none, and
 * `forever` when `allowForever`; a JS/YAML number is milliseconds.
 */
export function periodKind(allowForever: boolean): ValueKind<number> {
  const expected = `${PERIOD_FORMS}${allowForever ? ", or forever" : ""}, or 0`;
  const parse = (text: string): number => {
    const ms = text.trim() === "0" ? 0 : parsePeriod(text, allowForever);
    if (ms === undefined || ms < 0) throw new BadValue(expected);
    return ms;
  };
  return {
    fromText: parse,
    fromValue(value) {
      if (typeof value === "number" && value >= 0 && (Number.isFinite(value) || allowForever)) return value;
      if (typeof value === "string") return parse(value);
      throw new BadValue(expected);
    },
    toText: (value) => (value === 0 ? "0" : formatPeriod(value)),
  };
}
