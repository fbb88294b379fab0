import { MOMENT_FORMS, parseMoment } from "@rtbackup/core";
import { byteLength, fromWire } from "./wirePath.js";

/** The longest path a parameter may name, in bytes (Linux's PATH_MAX). */
export const MAX_PATH_BYTES = 4096;
/** Longer parameter text is refused before it is decoded (a byte is at most 4 characters of wire text). */
const MAX_WIRE_CHARS = 4 * MAX_PATH_BYTES;

/** An error the server's error handler answers with `statusCode` and `{ error: message }`. */
export class BrowseError extends Error {
  readonly statusCode: number;
  constructor(statusCode: 400 | 404, message: string) {
    super(message);
    this.name = "BrowseError";
    this.statusCode = statusCode;
  }
}

/** A parameter's value as an error message shows it: quoted, and cut short when long. */
export function shown(value: string): string {
  return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);
}

/**
 * The parameters of a request (the query string, or a JSON body) as single strings, checked against the names a
 * route takes: an unknown name, a repeated one or a value that is not text is a 400 naming it.
 */
export function paramsOf(input: unknown, allowed: readonly string[], where = "query"): Record<string, string> {
  if (input === undefined || input === null) return {};
  if (typeof input !== "object" || Array.isArray(input)) throw new BrowseError(400, `the ${where} must be an object of parameters`);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(input)) {
    if (!allowed.includes(name)) throw new BrowseError(400, `unknown parameter ${shown(name)} (this URL takes ${allowed.join(", ")})`);
    if (Array.isArray(value)) throw new BrowseError(400, `parameter ${name}: given more than once`);
    if (typeof value === "number" && Number.isFinite(value)) out[name] = String(value);
    else if (typeof value === "string") out[name] = value;
    else throw new BrowseError(400, `parameter ${name}: expected text, got ${value === null ? "null" : typeof value}`);
  }
  return out;
}

/** Why `path` (core's form) is not an absolute, normalised path, or undefined when it is one. */
function pathProblem(path: string): string | undefined {
  if (!path.startsWith("/")) return "expected an absolute path";
  if (path.includes("\0")) return "a path cannot hold a NUL byte";
  if (byteLength(path) > MAX_PATH_BYTES) return `longer than ${MAX_PATH_BYTES} bytes`;
  if (path === "/") return undefined;
  if (path.endsWith("/")) return 'expected no trailing "/"';
  const segments = path.slice(1).split("/");
  if (segments.includes("")) return 'expected no empty segment ("//")';
  if (segments.some((s) => s === "." || s === "..")) return 'expected no "." or ".." segment';
  return undefined;
}

/**
 * A path parameter (wire text, see wirePath.ts) in core's form: absolute and normalised (no `.` or `..` segment,
 * no `//`, no trailing `/` but for `/`, no NUL, at most {@link MAX_PATH_BYTES} bytes), else a 400 naming it.
 * Absent: `fallback`, or a 400 when there is none.
 */
export function pathParam(params: Record<string, string>, name: string, fallback?: string): string {
  const value = params[name];
  if (value === undefined) {
    if (fallback === undefined) throw new BrowseError(400, `parameter ${name}: required (an absolute path)`);
    return fallback;
  }
  const path = value.length > MAX_WIRE_CHARS ? undefined : fromWire(value);
  if (path === undefined) throw new BrowseError(400, `parameter ${name}: ${shown(value)} is not a path as this API writes them (\\xNN, \\\\)`);
  const problem = pathProblem(path);
  if (problem) throw new BrowseError(400, `parameter ${name}: ${problem}, got ${shown(value)}`);
  return path;
}

/** A name parameter (one path segment, wire text) in core's form, or undefined when absent; else a 400 naming it. */
export function nameParam(params: Record<string, string>, name: string): string | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  const decoded = value.length > MAX_WIRE_CHARS ? undefined : fromWire(value);
  const bad = decoded === undefined || decoded === "" || decoded.includes("/") || decoded.includes("\0") || byteLength(decoded) > MAX_PATH_BYTES;
  if (bad) throw new BrowseError(400, `parameter ${name}: expected one name (no "/", no NUL), got ${shown(value)}`);
  return decoded;
}

/** A moment parameter (ms since the epoch) as core's parseMoment reads it, or undefined when absent; else a 400. */
export function momentParam(params: Record<string, string>, name: string): number | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  const ms = value.length > 100 ? undefined : parseMoment(value);
  if (ms === undefined) throw new BrowseError(400, `parameter ${name}: expected ${MOMENT_FORMS}, got ${shown(value)}`);
  return ms;
}

/** An integer parameter in `[min, max]`, `fallback` when absent; else a 400 naming it. */
export function limitParam(params: Record<string, string>, name: string, min: number, max: number, fallback: number): number {
  const value = params[name];
  if (value === undefined) return fallback;
  const n = /^\d{1,9}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw new BrowseError(400, `parameter ${name}: expected an integer from ${min} to ${max}, got ${shown(value)}`);
  return n;
}
