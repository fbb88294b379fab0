import type { RepositoryV2 } from "../repository/v2/RepositoryV2.js";
import type { Base } from "../repository/v2/base.js";
import { refuseDamage } from "./pruneScan.js";
import type { PruneScratch } from "./pruneScratch.js";

/** What a prune does with the packs. */
export interface PackPlan {
  /** Packs stored when the prune listed them, and their bytes. */
  readonly stored: number;
  readonly storedBytes: number;
  /** Packs kept as they are (some kept version needs enough of them). */
  readonly kept: number;
  /** Packs whose needed blobs are written into new packs (they become candidates). */
  readonly repack: Set<string>;
  /** Kept blobs in those packs, written again. */
  readonly repackBlobs: number;
  /** Packs no kept version needs: named in the new base, deleted by a prune at least the grace period later. */
  readonly candidates: Set<string>;
  /** Candidates of the previous base, a grace period old, still unneeded: deleted now. */
  readonly dead: Set<string>;
  readonly deadBytes: number;
  /** Bytes kept versions need (compressed, as stored). */
  readonly neededBytes: number;
}

/**
 * Sorts every stored pack: needed bytes (blobs a kept version names) at or above `repackBelow` of its blobs', kept; some
 * but fewer, rewritten; none, a candidate. A candidate of the previous base (written at `previousTime`) at least
 * `graceMs` before `now` that no kept version needs is dead: nobody may still name it, because every agent stops
 * deduplicating against a base's candidates when it sees the base (docs/history.md "Prune").
 */
export async function planPacks(
  repo: RepositoryV2,
  scratch: PruneScratch,
  o: { previous: Base | undefined; previousTime: number | undefined; now: number; graceMs: number; repackBelow: number },
): Promise<PackPlan> {
  const sizes = new Map<string, number>();
  for await (const p of repo.packs.list()) sizes.set(p.id, p.size);
  // Per pack: the bytes kept versions need, and how many blobs.
  const neededIn = new Map<string, { bytes: number; blobs: number }>();
  let neededBytes = 0;
  for (const { key } of scratch.needed.getRange({ snapshot: false })) {
    const b = scratch.location(key);
    const id = key.toString("hex");
    if (!b) throw refuseDamage(`a kept version names blob ${id}, which no batch locates`);
    if (!sizes.has(b.pack)) throw refuseDamage(`pack ${b.pack}, which kept versions need, is not stored`);
    let n = neededIn.get(b.pack);
    if (!n) neededIn.set(b.pack, (n = { bytes: 0, blobs: 0 }));
    n.bytes += b.length;
    n.blobs++;
    neededBytes += b.length;
  }
  // A pack's share of needed bytes counts among the blobs the index locates in it (its header and table of
  // contents do not count, so a pack of small blobs all needed is not rewritten again and again).
  const locatedIn = new Map<string, number>();
  for (const b of scratch.locations()) locatedIn.set(b.pack, (locatedIn.get(b.pack) ?? 0) + b.length);
  const mayDie = new Set(o.previous && o.previousTime !== undefined && o.previousTime <= o.now - o.graceMs ? o.previous.candidates : []);
  const plan = {
    stored: sizes.size,
    storedBytes: 0,
    kept: 0,
    repack: new Set<string>(),
    repackBlobs: 0,
    candidates: new Set<string>(),
    dead: new Set<string>(),
    deadBytes: 0,
    neededBytes,
  };
  for (const [pack, size] of sizes) {
    plan.storedBytes += size;
    const needed = neededIn.get(pack);
    if (needed) {
      if (needed.bytes >= o.repackBelow * (locatedIn.get(pack) ?? size)) plan.kept++;
      else {
        plan.repack.add(pack);
        plan.repackBlobs += needed.blobs;
        plan.candidates.add(pack);
      }
    } else if (mayDie.has(pack)) {
      plan.dead.add(pack);
      plan.deadBytes += size;
    } else plan.candidates.add(pack);
  }
  return plan;
}
