/** What kind of damage `checkRepository` found. */
export type DamageKind =
  /** The repository's `config` object does not verify (nothing else can be checked). */
  | "config-unreadable"
  /** An index batch that cannot be read or does not verify (truncated, corrupt, wrong header). */
  | "batch-unreadable"
  /** A checkpoint that cannot be read or does not verify. */
  | "checkpoint-unreadable"
  /** A base (format v2, written by prune) that cannot be read, or whose lane's last batch is not stored. */
  | "base-unreadable"
  /** Sequence numbers with no batch: a gap, a missing newest batch, or a checkpoint beyond the batches. */
  | "sequence-gap"
  /** A checkpoint whose entries, sequence number or time disagree with its batches. */
  | "checkpoint-mismatch"
  /** A content object named by the index that the store does not have. */
  | "chunk-missing"
  /** A content object whose size or bytes do not match its name. */
  | "chunk-corrupt";

/** One version of a path (a put record, or a checkpoint entry no batch carries) whose content needs a damaged chunk. */
export interface DependentVersion {
  path: string;
  /** Sequence number and time (ms) of the batch or checkpoint that records this version. */
  seq: number;
  time: number;
  /** The index object that records it, relative to the repository prefix. */
  key: string;
  /** Whether the path still has this content in the newest tree (what a restore of "now" would need). */
  current: boolean;
}

/** Dependents listed per damaged chunk; the rest are only counted ({@link Damage.dependentCount}). */
export const MAX_LISTED_DEPENDENTS = 100;
/** Differing paths named per checkpoint mismatch; the rest are only counted ({@link Damage.pathCount}). */
export const MAX_LISTED_PATHS = 10;

/** One damaged object (or range of missing objects), with what depends on it. */
export interface Damage {
  kind: DamageKind;
  /** The damaged object's key relative to the prefix (absent for a gap). */
  key?: string;
  /** Index objects: the sequence number and time in the object's name. */
  seq?: number;
  time?: number;
  /** Chunks: the content id. */
  chunk?: string;
  /** Gaps: the first and last missing sequence numbers. */
  missing?: { from: number; to: number };
  /** What is wrong, in one sentence naming the object. */
  message: string;
  /** Checkpoint mismatches: a few differing paths, and how many differ in all. */
  paths?: string[];
  pathCount?: number;
  /** Chunks: the versions whose content includes it (at most {@link MAX_LISTED_DEPENDENTS}), and their number. */
  dependents?: DependentVersion[];
  dependentCount?: number;
}

/** Something a reader handles correctly but an operator should know about. */
export interface CheckWarning {
  kind: "duplicate-sequence" | "checkpoint-unverified";
  seq: number;
  keys: string[];
  message: string;
}

/** Totals of one check. */
export interface CheckSummary {
  /** Batch and checkpoint objects listed. */
  batches: number;
  checkpoints: number;
  /** Highest sequence number listed (-1 for an empty index). */
  lastSequence: number;
  /** Distinct content ids named by the readable index objects. */
  chunksReferenced: number;
  /** Of those, how many the listing of `data/` shows. */
  chunksPresent: number;
  /** Content objects downloaded and re-hashed (`readData`), and their bytes. */
  chunksRead: number;
  bytesRead: number;
  /** Objects under `data/` nothing in the index names (not damage: nothing deletes them yet), and their bytes. */
  orphans: number;
  orphanBytes: number;
  /** Number of {@link Damage} entries and of {@link CheckWarning}s. */
  damaged: number;
  warnings: number;
}

/** Result of {@link checkRepository}. */
export interface CheckReport {
  damage: Damage[];
  warnings: CheckWarning[];
  summary: CheckSummary;
}
