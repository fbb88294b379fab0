import { createHash } from "node:crypto";
import { hostname } from "node:os";

/** What a snapshot name of ours says about who made it and when. */
export interface SnapshotOwner {
  /** First 8 hex digits of SHA-256 of the host name. */
  readonly host: string;
  /** Process id of the agent that made it. */
  readonly pid: number;
  /** When it was made (ms since the epoch, from the name). */
  readonly createdAt: number;
}

/** The short host tag used in names: 8 hex digits of SHA-256(hostname). */
export function hostTag(name: string = hostname()): string {
  return createHash("sha256").update(name).digest("hex").slice(0, 8);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function stamp(ms: number): string {
  // 2026-11-22T02:36:00.123Z → 20261122T023600123Z: sortable, and only characters ZFS allows in names.
  return new Date(ms).toISOString().replace(/[-:]/g, "").replace(".", "");
}

function parseStamp(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z$/.exec(s);
  if (!m) return NaN;
  const [, y, mo, d, h, mi, se, ms] = m.map(Number) as number[];
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, se!, ms!);
}

/**
 * Names of our snapshots, clones and marks, and recognising them again.
 *
 * - Batch snapshot: `<prefix>-<host>-<pid>-<YYYYMMDDTHHMMSSmmmZ>-<counter>`, e.g.
 *   `rtb-3fa9c2d1-4242-20261122T023600123Z-17`. Its read-only clone (where `.zfs` is missing) is the dataset
 *   `<parent of the dataset>/<same name>`. Host and pid let start-up cleanup tell a crashed agent's leftovers
 *   from the live snapshots of another agent on the same machine.
 * - Mark (kept across restarts for `zfs diff` catch-up): `<prefix>-mark-<host>-<YYYYMMDDTHHMMSSmmmZ>`.
 */
export class SnapshotNaming {
  /** The configured prefix. */
  readonly prefix: string;
  /** This host's tag. */
  readonly host: string;
  /** This process's id. */
  readonly pid: number;
  readonly #batch: RegExp;
  readonly #mark: RegExp;
  #counter = 0;

  constructor(prefix: string, host: string = hostTag(), pid: number = process.pid) {
    this.prefix = prefix;
    this.host = host;
    this.pid = pid;
    const p = escapeRegExp(prefix);
    this.#batch = new RegExp(`^${p}-([0-9a-f]{8})-(\\d+)-(\\d{8}T\\d{9}Z)-(\\d+)$`);
    this.#mark = new RegExp(`^${p}-mark-([0-9a-f]{8})-(\\d{8}T\\d{9}Z)$`);
  }

  /** A new, unique batch snapshot name (the part after `@`). */
  next(createdAt: number): string {
    this.#counter += 1;
    return `${this.prefix}-${this.host}-${this.pid}-${stamp(createdAt)}-${this.#counter}`;
  }

  /** A new mark name (the part after `@`). */
  nextMark(createdAt: number): string {
    return `${this.prefix}-mark-${this.host}-${stamp(createdAt)}`;
  }

  /** Who made a batch snapshot or clone of ours (pass the short name, after `@` or the last `/`); else undefined. */
  parse(shortName: string): SnapshotOwner | undefined {
    const m = this.#batch.exec(shortName);
    if (!m) return undefined;
    const createdAt = parseStamp(m[3]!);
    if (Number.isNaN(createdAt)) return undefined;
    return { host: m[1]!, pid: Number(m[2]), createdAt };
  }

  /** When a mark of this host was made, if `shortName` is one; else undefined. */
  parseMark(shortName: string): number | undefined {
    const m = this.#mark.exec(shortName);
    if (!m || m[1] !== this.host) return undefined;
    const createdAt = parseStamp(m[2]!);
    return Number.isNaN(createdAt) ? undefined : createdAt;
  }
}
