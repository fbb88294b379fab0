import { BackupError, IndexDamagedError, StorageError, messageOf } from "../errors.js";
import type { IndexRecord } from "../types.js";
import { parseIndexKey, type IndexHeader, type IndexObjectName } from "./format.js";
import type { Repository } from "./Repository.js";

/** One verified batch of the journal. */
export interface JournalBatch {
  name: IndexObjectName;
  header: IndexHeader;
  records: IndexRecord[];
}

/** Result of {@link readJournal}. */
export interface Journal {
  /** Every batch read, in journal order (sequence number, time, digest), replaced ones included. */
  batches: JournalBatch[];
  /** Keys named in the `replaces` header of any batch read. */
  replaced: Set<string>;
  /** Highest sequence number listed (`after` when there is none). */
  lastSequence: number;
  /**
   * With `anchor`: why the checkpoint cannot be trusted (no batch under its sequence number, or one newer than its
   * time). Nothing was read then; the caller falls back to an older checkpoint.
   */
  anchorProblem?: string;
  /** Sequence numbers that still carry more than one batch nobody replaced (a conflict not yet resolved). */
  unresolved: number[];
}

/** Options of {@link readJournal}. */
export interface ReadJournalOptions {
  /** Read the batches after this sequence number (a checkpoint's, or -1 for all). */
  after: number;
  /**
   * The checkpoint the read starts from (`after` is its `seq`): a batch under its sequence number must still be
   * stored, and none of them may be newer than the checkpoint's time; otherwise `anchorProblem` says why.
   */
  anchor?: IndexObjectName;
  /** A sequence number that must have a batch (the last one a state cache applied). */
  expect?: number;
  /** Point in time: batches newer than this are ignored. */
  at?: number;
  /** Also read and verify the batches of `expect` when it is not after `after` (what a commit builds on). */
  verifyExpected?: boolean;
  /** Keys to list but not read (the caller wrote them and knows their records). */
  skipRead?: ReadonlySet<string>;
  /**
   * Salvage: a gap or an unreadable batch is passed here and reading goes on with the rest, instead of throwing.
   * For readers that restore what they can (restore, list); never for writers.
   */
  onDamage?: (damage: IndexDamagedError) => void;
}

/** Whether a storage error means the object is bad or gone rather than the store being unreachable. */
export function isDamage(err: unknown): boolean {
  if (err instanceof StorageError) return err.code === "INTEGRITY" || err.code === "STORAGE_NOT_FOUND";
  return err instanceof BackupError && err.code === "REPOSITORY_VERSION";
}

/**
 * Why checkpoint `c` disagrees with the batches listed from its sequence number on: the batch it names as its last is
 * not stored (the newest batch was lost, or the checkpoint's number is false), or a batch under that number is newer
 * than the checkpoint's time (a point-in-time read would then start from a state that did not exist yet).
 */
function checkpointProblem(c: IndexObjectName, names: readonly IndexObjectName[]): string | undefined {
  const own = names.filter((n) => n.seq === c.seq);
  if (!own.length) {
    const next = names.find((n) => n.seq > c.seq);
    return `checkpoint ${c.key} covers batches up to ${c.seq}, but no batch ${c.seq} is stored (${next ? `the next one is ${next.key}` : "and none after it"}): the batch was lost or the checkpoint's sequence number is false`;
  }
  const newest = own.reduce((a, b) => (b.time > a.time ? b : a));
  if (newest.time > c.time) return `checkpoint ${c.key} has time ${c.time}, before its own batch ${newest.key} (${newest.time}): its time is false`;
  return undefined;
}

/**
 * Checks that every sequence number from `after + 1` to the highest listed has a batch; a gap is an
 * {@link IndexDamagedError} (thrown, or passed to `onDamage` by salvaging readers). Returns the highest number.
 */
function checkGaps(names: readonly IndexObjectName[], after: number, onDamage: ((damage: IndexDamagedError) => void) | undefined): number {
  let lastSequence = after;
  for (const name of names) {
    if (name.seq <= after) continue;
    if (name.seq > lastSequence + 1) {
      const gap = new IndexDamagedError(
        `the index has a gap: no batch between ${lastSequence} and ${name.seq} (${name.seq - lastSequence === 2 ? `batch ${lastSequence + 1} is` : `batches ${lastSequence + 1}..${name.seq - 1} are`} missing; next is ${name.key})`,
        { key: name.key },
      );
      if (!onDamage) throw gap;
      onDamage(gap);
    }
    lastSequence = Math.max(lastSequence, name.seq);
  }
  return lastSequence;
}

/**
 * A writer rewrites a batch it wrote and then listed, so a replaced key that is not stored was most likely deleted:
 * its records are carried by the rewrite, but the store has lost an object. Salvaging readers report it; writers
 * need nothing from it (a store whose listings lag could show it later).
 */
function reportMissingReplaced(
  names: readonly IndexObjectName[],
  replaced: ReadonlySet<string>,
  from: number,
  onDamage: (damage: IndexDamagedError) => void,
): void {
  const listed = new Set(names.map((n) => n.key));
  for (const key of replaced) {
    const seq = parseIndexKey(key)?.seq ?? -1;
    if (seq < from || listed.has(key)) continue;
    onDamage(new IndexDamagedError(`index batch ${key}, which a later batch replaces, is not stored (deleted?); its records are in the rewrite`, { key }));
  }
}

/** Reads one batch object, with its damage turned into an {@link IndexDamagedError} naming it. */
type BatchReader = (name: IndexObjectName) => Promise<{ header: IndexHeader; records: IndexRecord[] }>;

/**
 * Reads and verifies the journal after `after`: every batch object is read and checked, every sequence number from
 * `after + 1` to the highest one must have a batch, and `expect` must be present. Any of these failing is an
 * {@link IndexDamagedError} naming the object or the gap; a store that cannot be reached is its own (transient)
 * error. Readers apply `batches` in order, skipping those in `replaced`.
 */
export async function readJournal(repo: Repository, options: ReadJournalOptions): Promise<Journal> {
  const { after } = options;
  const from = firstListed(options);
  const names: IndexObjectName[] = [];
  for await (const name of repo.listBatches(Math.max(0, from))) names.push(name);
  if (options.anchor) {
    const anchorProblem = checkpointProblem(options.anchor, names);
    if (anchorProblem) return { batches: [], replaced: new Set(), lastSequence: after, unresolved: [], anchorProblem };
  }
  checkExpected(repo, names, options.expect);
  const lastSequence = checkGaps(names, after, options.onDamage);
  const read = batchReader(repo, options.onDamage);
  if (options.verifyExpected) for (const name of names) if (name.seq === options.expect && name.seq <= after) await read(name);
  const { batches, replaced } = await readBatches(names, options, read);
  if (options.onDamage) reportMissingReplaced(names, replaced, from, options.onDamage);
  return { batches, replaced, lastSequence, unresolved: unresolvedSequences(batches, replaced) };
}

/** The first sequence number to list: after `after`, or from `expect` or the anchor when they are not after it. */
function firstListed(options: ReadJournalOptions): number {
  const { after } = options;
  let from = options.expect !== undefined && options.expect >= 0 ? Math.min(options.expect, after + 1) : after + 1;
  if (options.anchor) from = Math.min(from, options.anchor.seq);
  return from;
}

/** Throws when `expect` (the last batch a state cache applied) is not among the batches listed. */
function checkExpected(repo: Repository, names: readonly IndexObjectName[], expect: number | undefined): void {
  const seqs = new Set(names.map((n) => n.seq));
  if (expect !== undefined && expect >= 0 && !seqs.has(expect)) {
    const where = `${repo.storage.description}${repo.prefix ? ` prefix ${repo.prefix}` : ""}`;
    throw new IndexDamagedError(
      `index batch ${expect} (the last one this state cache applied) is missing from ${where}: it was deleted or the store was replaced`,
    );
  }
}

/** How to read a batch: damage is thrown as {@link IndexDamagedError}; salvaging readers get refused records via `onDamage`. */
function batchReader(repo: Repository, onDamage: ((damage: IndexDamagedError) => void) | undefined): BatchReader {
  const onBadRecord = onDamage
    ? (name: IndexObjectName) => (err: StorageError, record: number) =>
        onDamage(
          new IndexDamagedError(`index batch ${name.key} record ${record} is refused (${messageOf(err)}); the other records of the batch are applied`, {
            cause: err,
            key: name.key,
          }),
        )
    : undefined;
  return async (name) => {
    try {
      return await repo.readBatch(name, onBadRecord ? { onBadRecord: onBadRecord(name) } : {});
    } catch (err) {
      if (!isDamage(err)) throw err;
      throw new IndexDamagedError(`index batch ${name.key} cannot be read (truncated, corrupt or deleted): ${messageOf(err)}`, { cause: err, key: name.key });
    }
  };
}

/** Reads the batches after `after` (up to `at`), in journal order, and collects the keys they replace. */
async function readBatches(
  names: readonly IndexObjectName[],
  options: ReadJournalOptions,
  read: BatchReader,
): Promise<{ batches: JournalBatch[]; replaced: Set<string> }> {
  const at = options.at ?? Number.POSITIVE_INFINITY;
  const batches: JournalBatch[] = [];
  const replaced = new Set<string>();
  // The gap check covers every batch; a point-in-time read then ignores batches newer than `at` (writers'
  // clocks differ, so a newer batch may carry a lower sequence number than an older one).
  for (const name of names) {
    if (name.seq <= options.after || name.time > at) continue;
    if (options.skipRead?.has(name.key)) {
      batches.push({ name, header: { v: 1, kind: "batch", seq: name.seq, time: name.time, count: 0 }, records: [] });
      continue;
    }
    let object: Awaited<ReturnType<BatchReader>>;
    try {
      object = await read(name);
    } catch (err) {
      if (!(err instanceof IndexDamagedError) || !options.onDamage) throw err;
      options.onDamage(err);
      continue;
    }
    const { header, records } = object;
    for (const key of header.replaces ?? []) replaced.add(key);
    batches.push({ name, header, records });
  }
  return { batches, replaced };
}

/** Sequence numbers that still carry more than one batch nobody replaced. */
function unresolvedSequences(batches: readonly JournalBatch[], replaced: ReadonlySet<string>): number[] {
  const live = new Map<number, number>();
  for (const b of batches) if (!replaced.has(b.name.key)) live.set(b.name.seq, (live.get(b.name.seq) ?? 0) + 1);
  return [...live].filter(([, n]) => n > 1).map(([seq]) => seq);
}
