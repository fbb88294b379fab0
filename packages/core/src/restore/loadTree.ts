import { applyRecord } from "../repository/format.js";
import { readJournal } from "../repository/journal.js";
import type { Repository } from "../repository/Repository.js";
import type { FileEntry } from "../types.js";

/** The backed-up tree as of some moment. */
export interface TreeView {
  /** path → entry. */
  entries: Map<string, FileEntry>;
  /** The last batch applied (-1 for an empty index). */
  sequence: number;
  /** Time of that batch (ms since the epoch; 0 for an empty index). */
  time: number;
  /** Batches read (checkpoint excluded). */
  batchesRead: number;
}

/**
 * Reads the tree from the remote index alone: the newest checkpoint at or before `at`, then the batches after it
 * up to `at`, every batch of each sequence number in journal order except those a later batch replaces. Every
 * object is verified as it is read; a corrupt or missing one, or a gap, is an INDEX_DAMAGED error naming it.
 */
export async function loadTree(repo: Repository, options: { at?: number } = {}): Promise<TreeView> {
  const at = options.at ?? Number.POSITIVE_INFINITY;
  const entries = new Map<string, FileEntry>();
  let sequence = -1;
  let time = 0;
  const checkpoint = (await repo.listCheckpoints()).filter((c) => c.time <= at).at(-1);
  if (checkpoint) {
    for await (const entry of repo.readCheckpoint(checkpoint)) entries.set(entry.path, entry);
    sequence = checkpoint.seq;
    time = checkpoint.time;
  }
  let batchesRead = 0;
  // Every batch of a sequence number counts (several writers), in journal order; replaced batches are skipped.
  const journal = await readJournal(repo, { after: sequence, at });
  for (const { name, records } of journal.batches) {
    if (journal.replaced.has(name.key)) continue;
    for (const record of records) applyRecord(entries, record);
    sequence = name.seq;
    time = Math.max(time, name.time);
    batchesRead++;
  }
  return { entries, sequence, time, batchesRead };
}
