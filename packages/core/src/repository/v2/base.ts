import { gunzipSync, gzipSync } from "node:zlib";
import { StorageError, messageOf } from "../../errors.js";
import type { ObjectCipher } from "./cipher.js";
import { LANE_ID, type LaneBatchName } from "./lanes.js";

const DIGEST = /^[0-9a-f]{64}$/;
const BASE_KEY = /^index\/base\/(\d{13})-([0-9a-f]{64})$/;
/** A base is small (a few lines per lane and pack); anything larger is not one. */
const MAX_BASE_BYTES = 64 * 1024 * 1024;

/** The name of a base object, parsed from its key. */
export interface BaseName {
  readonly key: string;
  readonly time: number;
  readonly digest: string;
}

/**
 * A base (docs/history.md "Prune"): written by prune once the history it kept is stored in its own lane. It says
 * that the batches of each lane up to `cut` are superseded by the batches of `lane` (0 to `last`), which hold every
 * version the retention policy kept, with where each blob they need is. Readers start from the newest usable base:
 * they never apply a superseded batch, and a lane's first batch after its cut must name the cut's digest as `prev`.
 */
export interface Base {
  readonly time: number;
  /** The lane that holds the kept history (it has no batch after `last`). */
  readonly lane: string;
  readonly last: { readonly seq: number; readonly digest: string } | null;
  /** Lane → its last superseded batch. */
  readonly cut: Readonly<Record<string, { readonly seq: number; readonly digest: string }>>;
  /** Packs no kept version needs: deleted by a prune run at least the grace period later, unless a batch names them again. */
  readonly candidates: readonly string[];
  /** Lanes written by prune runs (this one's included): every batch of them may go once a newer base supersedes them. */
  readonly pruneLanes: readonly string[];
}

/** `index/base/<time>-<digest>`. */
export function baseKey(time: number, digest: string): string {
  return `index/base/${String(time).padStart(13, "0")}-${digest}`;
}

/** The parts of a base key; undefined for any other key. */
export function parseBaseKey(key: string): BaseName | undefined {
  const m = BASE_KEY.exec(key);
  return m ? { key, time: Number(m[1]), digest: m[2]! } : undefined;
}

/** The stored bytes of a base (gzip of JSON, sealed when encrypted) and its key. */
export function encodeBase(base: Base, cipher: ObjectCipher): { body: Buffer; key: string } {
  const plain = gzipSync(Buffer.from(`${JSON.stringify({ v: 2, kind: "base", ...base })}\n`), { level: 6 });
  return { body: cipher.seal(plain), key: baseKey(base.time, cipher.digest(plain)) };
}

/** Reads a base: opened, digest against its name, shape checked; anything else is INTEGRITY damage naming it. */
export function decodeBase(name: BaseName, stored: Buffer, key: string, cipher: ObjectCipher): Base {
  const corrupt = (why: string): never => {
    throw new StorageError("INTEGRITY", `base ${key} is corrupt: ${why}`, { key, transient: false });
  };
  const plain = cipher.open(stored, key);
  if (cipher.digest(plain) !== name.digest) corrupt("its digest does not match its name");
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(gunzipSync(plain, { maxOutputLength: MAX_BASE_BYTES }).toString("utf8")) as Record<string, unknown>;
  } catch (err) {
    return corrupt(messageOf(err));
  }
  const problem = baseProblem(value, name);
  if (problem) corrupt(problem);
  return value as unknown as Base;
}

const isPosition = (p: unknown): boolean => {
  const o = p as { seq?: unknown; digest?: unknown } | null;
  return typeof o === "object" && o !== null && Number.isSafeInteger(o.seq) && (o.seq as number) >= 0 && typeof o.digest === "string" && DIGEST.test(o.digest);
};

function baseProblem(v: Record<string, unknown>, name: BaseName): string | undefined {
  if (v.v !== 2 || v.kind !== "base") return "not a v2 base";
  if (v.time !== name.time) return `its time ${JSON.stringify(v.time)} does not match its name (${name.time})`;
  if (typeof v.lane !== "string" || !LANE_ID.test(v.lane)) return "its lane is not a lane id";
  if (v.last !== null && !isPosition(v.last)) return "its last batch is not a position";
  const cut = v.cut as Record<string, unknown> | null;
  if (typeof cut !== "object" || cut === null || Array.isArray(cut)) return "its cut is not an object";
  for (const [lane, p] of Object.entries(cut)) if (!LANE_ID.test(lane) || !isPosition(p)) return `its cut of ${JSON.stringify(lane)} is not a position`;
  if (!Array.isArray(v.candidates) || !v.candidates.every((c) => typeof c === "string" && DIGEST.test(c))) return "its candidates are not pack ids";
  if (!Array.isArray(v.pruneLanes) || !v.pruneLanes.every((l) => typeof l === "string" && LANE_ID.test(l))) return "its prune lanes are not lane ids";
  return undefined;
}

/** What a reader applies of one lane under a base: its batches from `from` on, the first following `after`. */
export interface LaneView {
  readonly names: LaneBatchName[];
  readonly from: number;
  readonly after: string | undefined;
}

/**
 * The batches a reader applies under `base` (none: every batch of every described lane): the base's own lane up to
 * `last`, and each other lane after its cut (a lane without a `lane` object is read only when it is the base's).
 */
export function viewUnder(base: Base | undefined, listing: ReadonlyMap<string, LaneBatchName[]>, described: ReadonlySet<string>): Map<string, LaneView> {
  const out = new Map<string, LaneView>();
  for (const [lane, names] of listing) {
    if (!base) {
      if (described.has(lane)) out.set(lane, { names, from: 0, after: undefined });
      continue;
    }
    if (lane === base.lane) {
      out.set(lane, { names: names.filter((n) => base.last !== null && n.seq <= base.last.seq), from: 0, after: undefined });
      continue;
    }
    if (!described.has(lane) && !base.cut[lane]) continue;
    const cut = base.cut[lane];
    const from = cut ? cut.seq + 1 : 0;
    out.set(lane, { names: names.filter((n) => n.seq >= from), from, after: cut?.digest });
  }
  if (base && !out.has(base.lane)) out.set(base.lane, { names: [], from: 0, after: undefined });
  return out;
}
