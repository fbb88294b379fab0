// Extended attributes as the index records them: which are backed up, their limits, and the one conversion between
// the kernel's bytes and a record's field (docs/format.md, "xattrs"). POSIX ACLs are the attributes
// system.posix_acl_access and system.posix_acl_default, and file capabilities security.capability, so all three
// travel this way.
import { isUtf8 } from "node:buffer";
import { readXattrs, readXattrsSync, setXattr, type Xattr, type XattrTarget } from "@rtbackup/linux-fs";
import { isErrno, messageOf } from "../errors.js";

/** An entry's extended attributes: name → value in base64, names in ascending order. */
export type Xattrs = Readonly<Record<string, string>>;

/** Linux limits (XATTR_NAME_MAX, XATTR_SIZE_MAX); a record beyond them is damage. */
export const MAX_XATTR_NAME_BYTES = 255;
export const MAX_XATTR_VALUE_BYTES = 65536;
/** What one entry may carry in all (names and values); past it, the backup keeps the first names that fit. */
export const MAX_XATTRS_BYTES = 1024 * 1024;

const ACLS = new Set(["system.posix_acl_access", "system.posix_acl_default"]);
const PREFIXES = ["user.", "trusted.", "security."];

/**
 * Whether a name is one the agent backs up: `user.*`, `trusted.*` (listed only to root), `security.*` (file
 * capabilities, SELinux and other LSM labels) and the two POSIX ACLs. Other `system.*` names are views the kernel
 * makes of something else (NFSv4 ACLs, ext4 inline data) that cannot be set back.
 */
export function isRecordedXattr(name: string): boolean {
  return ACLS.has(name) || PREFIXES.some((p) => name.startsWith(p) && name.length > p.length);
}

/** What reading one entry's attributes gave: the field to record (absent when none), and names left out with why. */
export interface ReadXattrs {
  xattrs: Xattrs | undefined;
  skipped: string[];
}

/** Turns what the kernel listed into the record field: recorded names only, sorted, within the limits. */
export function toRecord(attrs: readonly Xattr[]): ReadXattrs {
  const skipped: string[] = [];
  const kept: [string, Buffer][] = [];
  for (const { name, value } of attrs) {
    const text = name.toString("utf8");
    if (!isUtf8(name) || name.length > MAX_XATTR_NAME_BYTES) skipped.push(`${JSON.stringify(text)} (not a UTF-8 name of at most 255 bytes)`);
    else if (isRecordedXattr(text)) kept.push([text, value]);
  }
  if (kept.length === 0) return { xattrs: undefined, skipped };
  kept.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const out: Record<string, string> = {};
  let total = 0;
  for (const [name, value] of kept) {
    total += Buffer.byteLength(name) + value.length;
    if (total > MAX_XATTRS_BYTES) skipped.push(`${name} (the entry's attributes pass ${MAX_XATTRS_BYTES} bytes)`);
    else out[name] = value.toString("base64");
  }
  return { xattrs: Object.keys(out).length ? out : undefined, skipped };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Why `value` cannot be a record's `xattrs` field, or `undefined` when it can. */
export function xattrsProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "xattrs is not an object";
  let total = 0;
  let last = "";
  for (const [name, v] of Object.entries(value)) {
    const show = JSON.stringify(name).slice(0, 80);
    if (!isRecordedXattr(name) || Buffer.byteLength(name) > MAX_XATTR_NAME_BYTES || name.includes("\0")) {
      return `xattr name ${show} is not a user., trusted., security. or POSIX ACL name of at most ${MAX_XATTR_NAME_BYTES} bytes`;
    }
    if (name <= last) return `xattr names are not in ascending order at ${show}`;
    last = name;
    if (typeof v !== "string" || v.length % 4 !== 0 || !BASE64.test(v)) return `xattr ${show} is not base64`;
    const bytes = (v.length / 4) * 3 - (v.endsWith("==") ? 2 : v.endsWith("=") ? 1 : 0);
    if (bytes > MAX_XATTR_VALUE_BYTES) return `xattr ${show} is ${bytes} bytes, more than ${MAX_XATTR_VALUE_BYTES}`;
    total += Buffer.byteLength(name) + bytes;
  }
  if (total > MAX_XATTRS_BYTES) return `xattrs hold ${total} bytes, more than ${MAX_XATTRS_BYTES}`;
  return undefined;
}

/** Same attributes (both absent counts as the same). */
export function sameXattrs(a: Xattrs | undefined, b: Xattrs | undefined): boolean {
  if (a === b) return true;
  const ka = a ? Object.keys(a) : [];
  const kb = b ? Object.keys(b) : [];
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a![k] === b![k]);
}

/** A filesystem that has no extended attributes at all (FUSE without them answers ENOSYS). */
const unsupported = (err: unknown) => isErrno(err, "ENOTSUP", "EOPNOTSUPP", "ENOSYS");

/** The attributes of an open fd or a path (not followed), read in the thread pool. */
export async function readEntryXattrs(target: XattrTarget): Promise<ReadXattrs> {
  try {
    return toRecord(await readXattrs(target));
  } catch (err) {
    return unreadable(err);
  }
}

/**
 * A failed read: none on a filesystem without attributes; otherwise none recorded and the reason reported. The content
 * and the rest of the metadata are still backed up (a file is never held back for its attributes).
 */
function unreadable(err: unknown): ReadXattrs {
  return { xattrs: undefined, skipped: unsupported(err) ? [] : [`all attributes (${messageOf(err)})`] };
}

/** {@link readEntryXattrs} with a synchronous call, for local files only (never a FUSE view). */
export function readEntryXattrsSync(target: XattrTarget): ReadXattrs {
  try {
    return toRecord(readXattrsSync(target));
  } catch (err) {
    return unreadable(err);
  }
}

/**
 * Sets recorded attributes on an fd, or on a path that is followed (an `O_PATH` fd's /proc link). Each one that
 * cannot be set (a non-root restore of `trusted.*` or `security.capability`, a filesystem without them) is left
 * out and named in the returned list, with the reason; the others are still set.
 */
export function applyXattrs(target: XattrTarget, xattrs: Xattrs | undefined): string[] {
  const failed: string[] = [];
  if (!xattrs) return failed;
  for (const [name, value] of Object.entries(xattrs)) {
    try {
      setXattr(target, Buffer.from(name), Buffer.from(value, "base64"));
    } catch (err) {
      failed.push(`${name}: ${messageOf(err)}`);
    }
  }
  return failed;
}
