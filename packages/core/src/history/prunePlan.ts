import type { FileEntry } from "../types.js";
import { pathKey } from "./historyCache.js";
import type { CommitPlace } from "./pruneScan.js";
import { blobKey, type PruneScratch, type ScratchVersion } from "./pruneScratch.js";
import { planPath, retentionMoments, type RetentionPolicy, type Verdict } from "./retention.js";
import type { Version } from "./versions.js";

/** What a retention policy keeps and forgets, counted. */
export interface RetentionCounts {
  readonly kept: number;
  readonly forgotten: number;
  /** Paths with a version forgotten. */
  readonly forgottenPaths: number;
  /** Deletions kept in the history (their path has a kept version before them), and those that go with their versions. */
  readonly deletionsKept: number;
  readonly deletionsForgotten: number;
}

/** Versions planned between two write transactions of the scratch store. */
const PER_TRANSACTION = 10_000;

/** The key of a kept record: its commit, deletions (0) before puts (1), then its path. */
function keptKey(commit: number, kind: 0 | 1, path: string): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(commit, 0);
  head[4] = kind;
  return Buffer.concat([head, pathKey(path)]);
}

/** What planning writes into the scratch store, a transaction at a time: kept records, and blobs kept files need. */
interface Writes {
  readonly kept: [Buffer, [string, number | null]][];
  readonly needed: Buffer[];
}

/** One path's versions, oldest first, with the id of each one's entry and the number of its commit. */
interface PathVersions {
  readonly list: Version[];
  readonly ids: (number | null)[];
  readonly orders: number[];
}

/**
 * Applies `policy` path after path to the versions the scan wrote (each path's, oldest first, read together from the
 * scratch store: {@link planPath}), telling `onVerdict` each verdict, and writes what stays: the kept versions and
 * deletions into `kept`, the blobs kept files need into `needed`. Memory holds one path's versions at a time.
 */
export function planKept(
  scratch: PruneScratch,
  commits: readonly CommitPlace[],
  o: { policy: RetentionPolicy; now: number; onVerdict?: ((v: Verdict) => void) | undefined },
): RetentionCounts {
  const moments = retentionMoments(o.policy, o.now);
  const counts = { kept: 0, forgotten: 0, forgottenPaths: 0, deletionsKept: 0, deletionsForgotten: 0 };
  let writes: Writes = { kept: [], needed: [] };
  const flush = () => {
    const todo = writes;
    writes = { kept: [], needed: [] };
    scratch.write(() => {
      for (const [key, value] of todo.kept) scratch.kept.putSync(key, value);
      for (const key of todo.needed) scratch.needed.putSync(key, 1);
    });
  };
  let one: PathVersions = { list: [], ids: [], orders: [] };
  const plan = () => {
    if (one.list.length === 0) return;
    const p = planPath(one.list, o.policy, o.now, moments);
    for (const v of p.verdicts) o.onVerdict?.(v);
    const kept = p.verdicts.filter((v) => v.keep).length;
    counts.kept += kept;
    counts.forgotten += p.verdicts.length - kept;
    if (kept < p.verdicts.length) counts.forgottenPaths++;
    counts.deletionsKept += p.deletions.length;
    counts.deletionsForgotten += p.forgottenDeletions.length;
    keptWrites(scratch, one, p.verdicts, p.deletions, writes);
    one = { list: [], ids: [], orders: [] };
    if (writes.kept.length + writes.needed.length >= PER_TRANSACTION) flush();
  };
  for (const { key, value } of scratch.versions.getRange({ snapshot: false })) {
    const [path, event, id, from] = value as ScratchVersion;
    if (one.list.length > 0 && one.list[0]!.path !== path) plan();
    const order = key.readUInt32BE(key.length - 4);
    const c = commits[order]!;
    // The entry is read when someone is told the verdict, else only for the versions kept (keptWrites).
    const stored = id === null || !o.onVerdict ? undefined : scratch.entries.get(id);
    // The entry as versionsOf gives it: a put's record, a moved-in version's the one put elsewhere, now at this path.
    const entry = stored && ({ op: "put", path, ...stored } as FileEntry);
    one.list.push({ path, event, time: c.time, writer: c.writer, seq: c.seq, entry, from: from ?? undefined });
    one.ids.push(id);
    one.orders.push(order);
  }
  plan();
  flush();
  return counts;
}

/** Adds what one path keeps to `out`: each kept version (by its commit, as a put) and deletion, and the blobs kept files need. */
function keptWrites(scratch: PruneScratch, one: PathVersions, verdicts: readonly Verdict[], deletions: readonly Version[], out: Writes): void {
  const place = new Map(one.list.map((v, i) => [v, i]));
  for (const { version, keep } of verdicts) {
    if (!keep) continue;
    const i = place.get(version)!;
    const id = one.ids[i]!;
    out.kept.push([keptKey(one.orders[i]!, 1, version.path), [version.path, id]]);
    const entry = version.entry ?? (id === null ? undefined : scratch.entries.get(id));
    if (entry?.type === "file") for (const c of entry.chunks) out.needed.push(blobKey(c));
  }
  for (const d of deletions) out.kept.push([keptKey(one.orders[place.get(d)!]!, 0, d.path), [d.path, null]]);
}
