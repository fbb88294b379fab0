import { messageOf } from "../../errors.js";
import { isDamage } from "../journal.js";
import { viewUnder, type Base, type BaseName, type LaneView } from "./base.js";
import type { LaneBatchName, LaneDamage } from "./lanes.js";
import type { RepositoryV2 } from "./RepositoryV2.js";

/** What a reader applies: the base it starts from (if any), and each lane's batches under it. */
export interface IndexView {
  readonly base: Base | undefined;
  readonly baseName: BaseName | undefined;
  readonly lanes: Map<string, LaneView>;
  /** Bases that could not be used (unreadable, or their lane's last batch is not stored), newest first. */
  readonly damage: LaneDamage[];
  /** The listing the view was made from: lanes with a `lane` object, every lane's batches, every base. */
  readonly listing: { readonly described: ReadonlySet<string>; readonly batches: ReadonlyMap<string, LaneBatchName[]>; readonly bases: readonly BaseName[] };
}

/**
 * Lists the lanes and bases once and picks the newest usable base: it reads and verifies, and the last batch of its
 * lane is listed under the digest it names. A base that fails is damage (named) and the one before it is tried; with
 * none usable, every lane is read from its first batch (a pruned repository then shows the gaps prune left).
 * `at` keeps only batches committed at or before that time; a base is used whatever its time, because it holds
 * the history before it.
 */
export async function readIndexView(repo: RepositoryV2, options: { at?: number } = {}): Promise<IndexView> {
  const { described, batches } = await repo.laneListing();
  const damage: LaneDamage[] = [];
  let chosen: { base: Base; name: BaseName } | undefined;
  const bases = await repo.bases();
  for (const name of [...bases].reverse()) {
    let base: Base;
    try {
      base = await repo.readBase(name);
    } catch (err) {
      if (!isDamage(err)) throw err;
      damage.push({ kind: "base", lane: "", seq: -1, message: `base ${name.key} cannot be read: ${messageOf(err)}` });
      continue;
    }
    const last = base.last;
    if (last && !batches.get(base.lane)?.some((n) => n.seq === last.seq && n.digest === last.digest)) {
      damage.push({ kind: "base", lane: base.lane, seq: last.seq, message: `base ${name.key}: batch ${last.seq} of its lane ${base.lane} is not stored` });
      continue;
    }
    chosen = { base, name };
    break;
  }
  const lanes = viewUnder(chosen?.base, batches, described);
  if (options.at !== undefined) {
    for (const [lane, view] of lanes) lanes.set(lane, { ...view, names: view.names.filter((n) => n.time <= options.at!) });
  }
  return { base: chosen?.base, baseName: chosen?.name, lanes, damage, listing: { described, batches, bases } };
}
