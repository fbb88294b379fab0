import type { Repository } from "../repository/Repository.js";
import type { FileEntry } from "../types.js";
import { checkContent, type CheckContentOptions } from "./checkContent.js";
import { MAX_LISTED_DEPENDENTS, type CheckReport, type Damage } from "./CheckReport.js";
import { replayIndex } from "./replayIndex.js";
import { scanIndex } from "./scanIndex.js";

/** Options of {@link checkRepository}. */
export interface CheckOptions extends CheckContentOptions {
  /**
   * A sequence number the index must reach: the last batch a local state cache applied. Without it a store that
   * lost its newest batches (and has no checkpoint beyond them) looks complete.
   */
  expectSequence?: number;
  /** Called when a phase starts (`index`, `content`, `replay`), for progress. */
  onPhase?: (phase: "index" | "content" | "replay") => void;
}

/** A report plus the newest tree the batches give (what {@link repairChunks} looks for on disk). */
export interface CheckOutcome extends CheckReport {
  tree: Map<string, FileEntry>;
}

/**
 * Verifies a repository without restoring it (like `restic check` / `kopia snapshot verify`): every batch and
 * checkpoint listed is read and verified, sequence numbers have no gaps (from 0 to the highest batch, checkpoint or
 * `expectSequence`), several live batches under one number are reported, every checkpoint agrees entry by entry with
 * the batches it covers, and every content id the index names is in the listing of `data/` (with `readData`,
 * downloaded and re-hashed). Each damaged chunk lists the versions (path, batch sequence number and time) whose
 * content includes it. Nothing is written. A store that cannot be reached throws; damage never does.
 */
export async function checkRepository(repo: Repository, options: CheckOptions = {}): Promise<CheckOutcome> {
  options.onPhase?.("index");
  const scan = await scanIndex(repo);
  if (options.expectSequence !== undefined && options.expectSequence > scan.lastSequence) {
    const from = scan.lastSequence + 1;
    const to = options.expectSequence;
    scan.damage.push({
      kind: "sequence-gap",
      missing: { from, to },
      message: `the newest index ${from === to ? `batch ${from} is` : `batches ${from}..${to} are`} missing: the local state cache applied batch ${to}, the store ends at ${scan.lastSequence}`,
    });
  }
  options.onPhase?.("content");
  const content = await checkContent(repo, scan.chunks, options);
  const damagedChunks = new Set(content.damage.map((d) => d.chunk!));
  options.onPhase?.("replay");
  const replay = await replayIndex(repo, scan, damagedChunks);
  for (const d of content.damage) {
    const versions = replay.dependents.get(d.chunk!) ?? [];
    const paths = new Set(versions.map((v) => v.path));
    const current = versions.filter((v) => v.current).length;
    d.dependents = versions.slice(0, MAX_LISTED_DEPENDENTS);
    d.dependentCount = versions.length;
    d.message += `; needed by ${versions.length} version(s) of ${paths.size} path(s)${current ? `, ${current} of them current` : ""}`;
  }
  const byKey = (a: Damage, b: Damage) => (a.key ?? "").localeCompare(b.key ?? "");
  const damage = [...scan.damage, ...replay.damage, ...content.damage.sort(byKey)];
  const warnings = [...scan.warnings, ...replay.warnings];
  return {
    damage,
    warnings,
    tree: replay.tree,
    summary: {
      batches: scan.batches.length,
      checkpoints: scan.checkpoints.length,
      lastSequence: scan.lastSequence,
      chunksReferenced: scan.chunks.size,
      chunksPresent: content.chunksPresent,
      chunksRead: content.chunksRead,
      bytesRead: content.bytesRead,
      orphans: content.orphans,
      orphanBytes: content.orphanBytes,
      damaged: damage.length,
      warnings: warnings.length,
    },
  };
}
