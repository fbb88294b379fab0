import { randomInt } from "node:crypto";
import { ConfigError } from "../errors.js";

const SPACE = 2 ** 32;

/** The part of the content id space whose objects `--read-data-subset` downloads. */
export interface ReadDataSubset {
  /** How it was given (`25%`, `2/5`). */
  readonly spec: string;
  /** Whether the chunk with this id (lowercase hex SHA-256) is in the subset. */
  includes(id: string): boolean;
}

/**
 * Parses a `--read-data-subset` value. Chunk ids are SHA-256 hashes, so their first 32 bits are spread evenly over
 * the id space, and a subset is a slice of that space:
 * - `n/t` (deterministic): the n-th of t equal slices. Running `1/t` … `t/t` reads every chunk exactly once.
 * - `P%` (random): a slice of P% of the space starting at a random point (wrapping around), so every chunk has the
 *   same chance P% and repeated runs cover everything. `100%` reads everything. `start` fixes the start (tests).
 */
export function parseReadDataSubset(value: unknown, start?: number): ReadDataSubset {
  const spec = String(value).trim();
  const bad = (why: string): never => {
    throw new ConfigError("--read-data-subset", `${why}, got "${spec}" (expected a percentage such as 10% or a slice n/t such as 2/5)`);
  };
  const slice = /^(\d+)\/(\d+)$/.exec(spec);
  if (slice) {
    const n = Number(slice[1]);
    const t = Number(slice[2]);
    if (t < 1 || n < 1 || n > t) bad("n/t needs 1 ≤ n ≤ t");
    const lo = Math.floor(((n - 1) * SPACE) / t);
    const hi = Math.floor((n * SPACE) / t);
    return { spec, includes: (id) => prefix32(id) >= lo && prefix32(id) < hi };
  }
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(spec);
  if (!percent) return bad("not a subset");
  const p = Number(percent![1]);
  if (!(p > 0 && p <= 100)) bad("the percentage must be above 0 and at most 100");
  if (p === 100) return { spec, includes: () => true };
  const width = Math.floor((p / 100) * SPACE);
  const from = start ?? randomInt(0, SPACE);
  return { spec, includes: (id) => (prefix32(id) - from + SPACE) % SPACE < width };
}

function prefix32(id: string): number {
  return Number.parseInt(id.slice(0, 8), 16);
}
