import { IndexDamagedError, messageOf } from "../errors.js";
import { isDamage } from "../repository/journal.js";
import { readIndexView, type IndexView } from "../repository/v2/indexView.js";
import type { CheckpointName } from "../repository/v2/laneBatch.js";
import { checkLane, mergeLanes, type LaneBatchName, type LaneDamage } from "../repository/v2/lanes.js";
import type { RepositoryV2 } from "../repository/v2/RepositoryV2.js";
import { afterProblem } from "../repository/v2/readTreeV2.js";
import { isNoOpMove } from "../repository/format.js";
import type { IndexRecord } from "../types.js";
import { pathKey } from "./historyCache.js";
import { putLast } from "./versions.js";
import type { PruneScratch } from "./pruneScratch.js";

/** A commit (a batch) the prune read; its place in the list is its number in the scratch store's keys. */
export interface CommitPlace {
  readonly time: number;
  readonly writer: string;
  readonly seq: number;
  readonly key: string;
}

/** What reading the whole index left besides the scratch store. */
export interface ScannedHistory {
  readonly view: IndexView;
  readonly commits: CommitPlace[];
  /** Each lane's last batch read (the new base's cut). */
  readonly cut: Record<string, { seq: number; digest: string }>;
  /** The checkpoints listed before the read: they cover batches this prune supersedes. */
  readonly checkpoints: readonly CheckpointName[];
}

/** Batches read ahead of the one being applied (their reads overlap; only these are in memory at once). */
const READ_AHEAD = 1;

export const refuseDamage = (message: string): IndexDamagedError => new IndexDamagedError(`prune refuses a damaged index: ${message} (rtb check tells more)`);

/**
 * Reads every batch a reader applies (under the current base, if any) one after the other in apply order, and
 * writes into `scratch` where each blob is and every version of every path ({@link VersionTracker}). Only a few
 * batches are in memory at once. Any damage refuses the prune: what a damaged lane held cannot be rewritten, and
 * must not be superseded (a chain is checked once its lane is read; nothing is written to the store before).
 */
export async function scanHistory(repo: RepositoryV2, scratch: PruneScratch): Promise<ScannedHistory> {
  const checkpoints = await repo.checkpoints();
  const view = await readIndexView(repo);
  if (view.damage.length) throw refuseDamage(view.damage[0]!.message);
  const merged = mergeLanes([...view.lanes.values()].map((l) => l.names.filter((n) => n.seq >= l.from)));
  const chains = new Map<string, { name: LaneBatchName; prev: string | null }[]>();
  const tracker = new VersionTracker(scratch);
  const read = async (name: LaneBatchName) => {
    try {
      return await repo.readBatch(name);
    } catch (err) {
      if (!isDamage(err)) throw err;
      throw refuseDamage(`lane ${name.lane} batch ${name.seq} (${name.key}) cannot be read: ${messageOf(err)}`);
    }
  };
  const ahead: Promise<Awaited<ReturnType<typeof read>>>[] = [];
  const queue = (i: number) => {
    if (i >= merged.length) return;
    const p = read(merged[i]!);
    p.catch(() => undefined); // awaited in turn; a refusal of a batch read ahead is not left unhandled meanwhile
    ahead.push(p);
  };
  for (let i = 0; i < READ_AHEAD; i++) queue(i);
  const commits: CommitPlace[] = [];
  for (let i = 0; i < merged.length; i++) {
    const name = merged[i]!;
    const batch = await ahead.shift()!;
    queue(i + READ_AHEAD);
    let chain = chains.get(name.lane);
    if (!chain) chains.set(name.lane, (chain = []));
    chain.push({ name, prev: batch.prev });
    scratch.write(() => {
      for (const b of batch.blobs) scratch.locate(b);
      tracker.apply(i, batch.records);
    });
    commits.push({ time: name.time, writer: name.lane, seq: name.seq, key: name.key });
  }
  const cut: Record<string, { seq: number; digest: string }> = { ...(view.base?.cut ?? {}) };
  for (const [lane, { from, after }] of view.lanes) {
    const chain = chains.get(lane) ?? [];
    const problems = [...chainProblems(chain, from, after)];
    if (problems.length) throw refuseDamage(problems[0]!.message);
    const last = chain.reduce<LaneBatchName | undefined>((a, b) => (a && a.seq > b.name.seq ? a : b.name), undefined);
    if (last) cut[lane] = { seq: last.seq, digest: last.digest };
  }
  return { view, commits, cut, checkpoints };
}

/** A lane's damage as readLane names it: a first batch not following `after`, gaps, numbers twice, broken chains, times going back. */
function chainProblems(chain: readonly { name: LaneBatchName; prev: string | null }[], from: number, after: string | undefined): LaneDamage[] {
  const notAfter = afterProblem(chain, from, after);
  return [...(notAfter ? [notAfter] : []), ...checkLane(chain, from)];
}

/** What a path holds while the history is applied: the id of its entry in the scratch store, and whether it is a directory. */
interface Slot {
  readonly id: number;
  readonly dir: boolean;
}

/**
 * {@link versionsOf} over the whole tree, commit after commit, with the entries on disk: the tree in memory holds a
 * path and a small slot per live entry, and each version goes to the scratch store as soon as its commit is applied.
 * A move makes a new slot (as it makes a new entry), so that a path moved away and back within a commit is a version,
 * as versionsOf says. Files are deleted and moved without a walk of the tree; a directory (or a path the tree lacks)
 * walks it, as restore's applyRecord does.
 */
export class VersionTracker {
  readonly #tree = new Map<string, Slot>();
  readonly #scratch: PruneScratch;
  #next = 0;

  constructor(scratch: PruneScratch) {
    this.#scratch = scratch;
  }

  /** Applies one commit's records (in a write transaction of the scratch store) and writes the versions it made. */
  apply(commit: number, records: readonly IndexRecord[]): void {
    const before = new Map<string, Slot | undefined>();
    const movedFrom = new Map<string, string>();
    const putHere = new Set<string>();
    const note = (path: string) => {
      if (!before.has(path)) before.set(path, this.#tree.get(path));
    };
    for (const r of records) {
      if (r.op === "put") {
        note(r.path);
        putHere.add(r.path);
        const id = this.#next++;
        // The entry without what its version says already (op, path): a prune keeps one per version put.
        const { op: _op, path: _path, ...entry } = r;
        this.#scratch.entries.putSync(id, entry, { append: true });
        this.#tree.set(r.path, { id, dir: r.type === "dir" });
      } else if (r.op === "delete") this.#remove(r.path, note);
      else if (!isNoOpMove(r.from, r.to)) this.#move(r.from, r.to, note, movedFrom);
    }
    const suffix = Buffer.alloc(5);
    suffix.writeUInt32BE(commit, 1);
    for (const [path, was] of before) {
      const now = this.#tree.get(path);
      if (now === was) continue;
      const moved = now !== undefined && movedFrom.has(path) && !(putHere.has(path) && putLast(records, path));
      const event = !now ? "deleted" : moved ? "moved" : "put";
      this.#scratch.versions.putSync(Buffer.concat([pathKey(path), suffix]), [path, event, now?.id ?? null, moved ? movedFrom.get(path)! : null]);
    }
  }

  /** A path and everything under it that the tree holds (as applyRecord finds them: `path/` as a prefix). */
  #atAndUnder(path: string): [string, Slot][] {
    const out: [string, Slot][] = [];
    const prefix = `${path}/`;
    for (const e of this.#tree) if (e[0] === path || e[0].startsWith(prefix)) out.push(e);
    return out;
  }

  /** applyRecord's delete: the path, and what is under it unless it is a file. */
  #remove(path: string, note: (p: string) => void): void {
    const slot = this.#tree.get(path);
    const gone: [string, Slot | undefined][] = slot && !slot.dir ? [[path, slot]] : [[path, slot], ...this.#atAndUnder(path).filter(([p]) => p !== path)];
    for (const [p] of gone) {
      note(p);
      this.#tree.delete(p);
    }
  }

  /** applyRecord's move: what is at and under `from` goes under `to`, which is deleted first (rename(2) replaces it). */
  #move(from: string, to: string, note: (p: string) => void, movedFrom: Map<string, string>): void {
    const single = this.#tree.get(from);
    const moving = single && !single.dir ? [[from, single] as [string, Slot]] : this.#atAndUnder(from);
    for (const [p] of moving) note(p);
    this.#remove(to, note);
    for (const [p, slot] of moving) {
      this.#tree.delete(p);
      const path = to + p.slice(from.length);
      note(path);
      this.#tree.set(path, { id: slot.id, dir: slot.dir });
      movedFrom.set(path, p);
    }
  }
}
