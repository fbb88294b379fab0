import type { B2ApiName, TransactionClass } from "./transactionClasses.js";

/** Calls and billed transactions, per class and per API. */
export interface TransactionCounts {
  /** Calls per transaction class. */
  calls: Record<TransactionClass, number>;
  /** Billed transactions per class (a list call returning over 1,000 results counts as several). */
  billed: Record<TransactionClass, number>;
  /** Calls per API. */
  byApi: Partial<Record<B2ApiName, number>>;
  /** Calls that were answered by an injected fault. */
  faults: number;
}

interface CountableEntry {
  api: B2ApiName;
  txClass: TransactionClass;
  billed: number;
  fault: string | null;
}

/** Adds up log entries. */
export function countTransactions(entries: readonly CountableEntry[]): TransactionCounts {
  const out: TransactionCounts = { calls: { A: 0, B: 0, C: 0 }, billed: { A: 0, B: 0, C: 0 }, byApi: {}, faults: 0 };
  for (const e of entries) {
    out.calls[e.txClass] += 1;
    out.billed[e.txClass] += e.billed;
    out.byApi[e.api] = (out.byApi[e.api] ?? 0) + 1;
    if (e.fault) out.faults += 1;
  }
  return out;
}

/** The largest number of intervals `[startedAt, endedAt]` that overlap at one instant. */
export function maxOverlap(entries: readonly { startedAt: number; endedAt: number }[]): number {
  const events: [number, number][] = [];
  for (const e of entries) {
    events.push([e.startedAt, 1], [e.endedAt, -1]);
  }
  // Ends sort before starts at the same millisecond, so back-to-back calls do not count as overlapping.
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let current = 0;
  let best = 0;
  for (const [, delta] of events) {
    current += delta;
    best = Math.max(best, current);
  }
  return best;
}
