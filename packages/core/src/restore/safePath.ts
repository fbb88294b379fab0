import { join } from "node:path";

/**
 * The path of an index entry relative to a restore target, or `undefined` when the entry could escape it: not
 * absolute, empty, containing `.` or `..` segments, empty segments or NUL bytes.
 */
export function safeRelative(path: string): string | undefined {
  if (typeof path !== "string" || !path.startsWith("/") || path.includes("\0")) return undefined;
  const segments = path.slice(1).split("/");
  if (segments.length === 0 || segments.some((s) => s === "" || s === "." || s === "..")) return undefined;
  return segments.join("/");
}

/** Where an entry lands under `target`, or `undefined` if it would escape. */
export function targetPathOf(target: string, path: string): string | undefined {
  const rel = safeRelative(path);
  if (rel === undefined) return undefined;
  const out = join(target, rel);
  const base = target.endsWith("/") ? target : `${target}/`;
  return out.startsWith(base) ? out : undefined;
}
