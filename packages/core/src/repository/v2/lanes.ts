import { MAX_CHECKPOINT_ENTRIES, groupName } from "../format.js";

/** A lane id: 16 random bytes, in lowercase hex. */
export const LANE_ID = /^[0-9a-f]{32}$/;
const DIGEST = /^[0-9a-f]{64}$/;
const LANE_BATCH = /^lanes\/([0-9a-f]{32})\/batch\/(\d{8})\/(\d{12})-(\d{13})-([0-9a-f]{64})$/;

/** The name of one batch of one lane (docs/format-v2.md "Lanes"), parsed from its key. */
export interface LaneBatchName {
  readonly key: string;
  readonly lane: string;
  readonly seq: number;
  readonly time: number;
  readonly digest: string;
}

/** The header line of a v2 batch. */
export interface LaneBatchHeader {
  readonly v: 2;
  readonly kind: "batch";
  readonly lane: string;
  readonly seq: number;
  readonly time: number;
  readonly count: number;
  /** The digest of the lane's batch `seq - 1`; null for batch 0. */
  readonly prev: string | null;
}

/** What is wrong with a lane's journal, for a report that names the lane and the batch. */
export interface LaneDamage {
  readonly kind: "gap" | "chain" | "time" | "duplicate" | "unreadable" | "base";
  readonly lane: string;
  readonly seq: number;
  readonly message: string;
}

/** `lanes/<lane>/lane`: who writes the lane. */
export function laneKey(lane: string): string {
  if (!LANE_ID.test(lane)) throw new RangeError(`not a lane id: ${JSON.stringify(lane)}`);
  return `lanes/${lane}/lane`;
}

/** The listing prefix of a lane's batches of one group (10,000 sequence numbers). */
export function laneGroupPrefix(lane: string, seq: number): string {
  return `lanes/${lane}/batch/${groupName(seq)}/`;
}

/** `lanes/<lane>/batch/<group>/<seq>-<time>-<digest>`. */
export function laneBatchKey(lane: string, seq: number, time: number, digest: string): string {
  if (!LANE_ID.test(lane) || !DIGEST.test(digest)) throw new RangeError("a lane batch needs a lane id and a SHA-256 digest");
  return `${laneGroupPrefix(lane, seq)}${String(seq).padStart(12, "0")}-${String(time).padStart(13, "0")}-${digest}`;
}

/** The parts of a lane batch key; undefined for any key that is not exactly one (its group must match its seq). */
export function parseLaneBatchKey(key: string): LaneBatchName | undefined {
  const m = LANE_BATCH.exec(key);
  if (!m) return undefined;
  const seq = Number(m[3]);
  if (m[2] !== groupName(seq)) return undefined;
  return { key, lane: m[1]!, seq, time: Number(m[4]), digest: m[5]! };
}

/** Why `header` is not the header of the batch stored as `name`, or undefined. */
export function laneHeaderProblem(header: unknown, name: LaneBatchName): string | undefined {
  if (typeof header !== "object" || header === null || Array.isArray(header)) return "the header is not an object";
  const h = header as Record<string, unknown>;
  if (h.v !== 2) return `header v ${JSON.stringify(h.v)} is not 2`;
  if (h.kind !== "batch") return `header kind ${JSON.stringify(h.kind)} is not "batch"`;
  if (h.lane !== name.lane) return `header lane ${JSON.stringify(h.lane)} does not match its name (${name.lane})`;
  if (h.seq !== name.seq) return `header seq ${JSON.stringify(h.seq)} does not match its name (${name.seq})`;
  if (h.time !== name.time) return `header time ${JSON.stringify(h.time)} does not match its name (${name.time})`;
  if (!Number.isInteger(h.count) || (h.count as number) < 0 || (h.count as number) > MAX_CHECKPOINT_ENTRIES) {
    return `header count ${JSON.stringify(h.count)} is not an entry count of at most ${MAX_CHECKPOINT_ENTRIES}`;
  }
  if (name.seq === 0 ? h.prev !== null : typeof h.prev !== "string" || !DIGEST.test(h.prev)) {
    return `header prev ${JSON.stringify(h.prev)} is not ${name.seq === 0 ? "null (batch 0)" : "the previous batch's digest"}`;
  }
  return undefined;
}

/**
 * Checks one lane's batches (names and their headers' `prev`): sequence numbers from `first` with no gap and no
 * number twice, each `prev` the digest of the batch before it, and times that never go back. Returns every
 * problem; the batches before the first problem can be applied.
 */
export function checkLane(batches: readonly { name: LaneBatchName; prev: string | null }[], first = 0): LaneDamage[] {
  const sorted = [...batches].sort((a, b) => a.name.seq - b.name.seq);
  const damage: LaneDamage[] = [];
  let expected = first;
  let before: LaneBatchName | undefined;
  for (const { name, prev } of sorted) {
    const at = (kind: LaneDamage["kind"], message: string) => damage.push({ kind, lane: name.lane, seq: name.seq, message });
    if (before && name.seq === before.seq) {
      at("duplicate", `lane ${name.lane} has two batches numbered ${name.seq} (${before.key}, ${name.key}): only its writer appends to it`);
      continue;
    }
    if (name.seq !== expected)
      at("gap", `lane ${name.lane} has a gap: no batch ${expected}${name.seq - 1 > expected ? `-${name.seq - 1}` : ""} before ${name.key}`);
    else if (before && prev !== before.digest) at("chain", `lane ${name.lane} batch ${name.seq} does not follow batch ${before.seq} (its prev is ${prev})`);
    if (before && name.time < before.time) at("time", `lane ${name.lane} batch ${name.seq} is older than batch ${before.seq}`);
    before = name;
    expected = name.seq + 1;
  }
  return damage;
}

/** The order in which readers apply the batches of all lanes: batch time, then lane id, then sequence number. */
export function compareLaneBatches(a: LaneBatchName, b: LaneBatchName): number {
  return a.time - b.time || (a.lane < b.lane ? -1 : a.lane > b.lane ? 1 : 0) || a.seq - b.seq;
}

/** Every lane's batches in one list, in the order readers apply them ({@link compareLaneBatches}). */
export function mergeLanes(lanes: Iterable<readonly LaneBatchName[]>): LaneBatchName[] {
  const all: LaneBatchName[] = [];
  for (const lane of lanes) all.push(...lane);
  return all.sort(compareLaneBatches);
}
