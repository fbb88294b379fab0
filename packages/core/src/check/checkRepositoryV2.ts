import { messageOf } from "../errors.js";
import { applyRecord } from "../repository/format.js";
import { isDamage } from "../repository/journal.js";
import type { CheckpointName } from "../repository/v2/laneBatch.js";
import { mergeLanes, type LaneBatchName } from "../repository/v2/lanes.js";
import { readViewLanes, type LaneBatches } from "../repository/v2/readTreeV2.js";
import { readIndexView } from "../repository/v2/indexView.js";
import { packKey, type StoredBlob } from "../repository/v2/PackStore.js";
import type { RepositoryV2 } from "../repository/v2/RepositoryV2.js";
import type { FileEntry } from "../types.js";
import { MAX_LISTED_DEPENDENTS, MAX_LISTED_PATHS, type Damage, type DependentVersion } from "./CheckReport.js";
import type { CheckOptions, CheckOutcome } from "./checkRepository.js";

/** The lanes as read: every readable batch, in merge order, and where each blob is. */
interface LanesRead {
  order: LaneBatchName[];
  read: LaneBatches;
  located: Map<string, StoredBlob>;
  batchCount: number;
}

/**
 * Verifies a v2 repository (docs/format-v2.md) without restoring it: every lane batch is read and verified and each
 * lane's sequence, chain and times checked; every checkpoint is read and compared, entry by entry, with the merge of
 * the batches it covers; every blob a file names must be located by a batch and lie inside a listed pack (one
 * listing of `packs/`); with `readData`, every blob (or those whose pack id is in `subset`) is read by a ranged read,
 * decompressed and re-hashed. Each damaged blob lists the versions that need it. Nothing is written.
 */
export async function checkRepositoryV2(repo: RepositoryV2, options: CheckOptions = {}): Promise<CheckOutcome> {
  options.onPhase?.("index");
  const damage: Damage[] = [];
  const lanes = await readLanes(repo, damage);
  const checkpoints = await repo.checkpoints();
  for (const c of checkpoints) await checkCheckpoint(repo, c, lanes, damage);
  options.onPhase?.("content");
  const packs = new Map<string, number>();
  for await (const p of repo.packs.list()) packs.set(p.id, p.size);
  const { tree, needed } = versionsOf(lanes);
  const bad = new Map<string, Damage>();
  const present = locateBlobs(lanes.located, packs, needed, bad);
  const named = new Set([...lanes.located.values()].map((b) => b.pack));
  const orphans = [...packs].filter(([id]) => !named.has(id));
  const reading = options.readData ? await readBlobs(repo, lanes.located, needed, bad, options) : { chunksRead: 0, bytesRead: 0 };
  options.onPhase?.("replay");
  for (const [id, d] of bad) damage.push(withDependents(d, needed.get(id) ?? []));
  return {
    damage,
    warnings: [],
    tree,
    summary: {
      batches: lanes.batchCount,
      checkpoints: checkpoints.length,
      lastSequence: lanes.batchCount - 1,
      chunksReferenced: needed.size,
      chunksPresent: present,
      ...reading,
      orphans: orphans.length,
      orphanBytes: orphans.reduce((n, [, size]) => n + size, 0),
      damaged: damage.length,
      warnings: 0,
    },
  };
}

/** Reads every batch of every lane; what cannot be read, and each lane's gaps and breaks, are damage. */
async function readLanes(repo: RepositoryV2, damage: Damage[]): Promise<LanesRead> {
  // Under a base (a prune's), superseded batches are not read: they may be gone, and no reader applies them.
  const view = await readIndexView(repo);
  for (const d of view.damage) damage.push({ kind: "base-unreadable", message: d.message });
  const { byLane, read, problems } = await readViewLanes(repo, view.lanes, { salvage: true });
  for (const p of problems) {
    if (p.kind === "gap") damage.push({ kind: "sequence-gap", missing: { from: p.seq, to: p.seq }, message: p.message });
    else {
      const name = p.kind === "unreadable" ? view.lanes.get(p.lane)?.names.find((n) => n.seq === p.seq) : undefined;
      damage.push({ kind: "batch-unreadable", seq: p.seq, ...(name ? { key: name.key, time: name.time } : {}), message: p.message });
    }
  }
  const order = mergeLanes(byLane.values());
  const located = new Map<string, StoredBlob>();
  for (const name of order) for (const b of read.get(name.key)!.blobs) if (!located.has(b.id)) located.set(b.id, b);
  const batchCount = [...view.lanes.values()].reduce((n, v) => n + v.names.length, 0);
  return { order, read, located, batchCount };
}

/** The newest tree, and for each blob every version of a file that needs it (current when the tree still has it). */
function versionsOf(lanes: LanesRead): { tree: Map<string, FileEntry>; needed: Map<string, DependentVersion[]> } {
  const tree = new Map<string, FileEntry>();
  const puts: { record: FileEntry; at: DependentVersion }[] = [];
  const needed = new Map<string, DependentVersion[]>();
  for (const name of lanes.order) {
    for (const record of lanes.read.get(name.key)!.records) {
      applyRecord(tree, record);
      if (record.op !== "put" || record.type !== "file") continue;
      const at: DependentVersion = { path: record.path, seq: name.seq, time: name.time, key: name.key, current: false };
      puts.push({ record, at });
      for (const id of new Set(record.chunks)) {
        const list = needed.get(id);
        if (list) list.push(at);
        else needed.set(id, [at]);
      }
    }
  }
  // Current: the newest tree still has this content at this path (what a restore of "now" needs).
  for (const { record, at } of puts) at.current = tree.get(at.path)?.chunks.join() === record.chunks.join();
  return { tree, needed };
}

/** Each needed blob must be located, in a listed pack, inside it; returns how many are. */
function locateBlobs(
  located: ReadonlyMap<string, StoredBlob>,
  packs: ReadonlyMap<string, number>,
  needed: ReadonlyMap<string, unknown>,
  bad: Map<string, Damage>,
): number {
  let present = 0;
  for (const id of needed.keys()) {
    const blob = located.get(id);
    const key = blob ? packKey(blob.pack) : "";
    if (!blob) bad.set(id, { kind: "chunk-missing", chunk: id, message: `blob ${id} is not located by any readable lane batch` });
    else if (!packs.has(blob.pack)) bad.set(id, { kind: "chunk-missing", key, chunk: id, message: `pack ${key} (holding blob ${id}) is missing` });
    else if (blob.offset + blob.length > packs.get(blob.pack)!)
      bad.set(id, { kind: "chunk-corrupt", key, chunk: id, message: `pack ${key} is shorter than blob ${id} needs` });
    else present++;
  }
  return present;
}

/** `readData`: every needed blob not yet found damaged (or in `subset` of pack ids) is read and verified. */
async function readBlobs(
  repo: RepositoryV2,
  located: ReadonlyMap<string, StoredBlob>,
  needed: ReadonlyMap<string, unknown>,
  bad: Map<string, Damage>,
  options: CheckOptions,
): Promise<{ chunksRead: number; bytesRead: number }> {
  const toRead = [...needed.keys()].filter((id) => !bad.has(id) && (!options.subset || options.subset.includes(located.get(id)!.pack)));
  let bytesRead = 0;
  for (const [i, id] of toRead.entries()) {
    const blob = located.get(id)!;
    try {
      await repo.packs.read(blob);
    } catch (err) {
      if (!isDamage(err)) throw err;
      bad.set(id, {
        kind: "chunk-corrupt",
        key: packKey(blob.pack),
        chunk: id,
        message: `blob ${id} in pack ${packKey(blob.pack)} does not verify: ${messageOf(err)}`,
      });
    }
    bytesRead += blob.length;
    options.onRead?.(i + 1, toRead.length);
  }
  return { chunksRead: toRead.length, bytesRead };
}

function withDependents(d: Damage, versions: readonly DependentVersion[]): Damage {
  const current = versions.filter((v) => v.current).length;
  const paths = new Set(versions.map((v) => v.path)).size;
  return {
    ...d,
    dependents: versions.slice(0, MAX_LISTED_DEPENDENTS),
    dependentCount: versions.length,
    message: `${d.message}; needed by ${versions.length} version(s) of ${paths} path(s)${current ? `, ${current} of them current` : ""}`,
  };
}

/** A checkpoint must read, and hold exactly the tree the batches it covers give. */
async function checkCheckpoint(repo: RepositoryV2, c: CheckpointName, lanes: LanesRead, damage: Damage[]): Promise<void> {
  let content;
  try {
    content = await repo.readCheckpoint(c);
  } catch (err) {
    if (!isDamage(err)) throw err;
    damage.push({ kind: "checkpoint-unreadable", key: c.key, time: c.time, message: `checkpoint ${c.key} cannot be read: ${messageOf(err)}` });
    return;
  }
  const expected = new Map<string, FileEntry>();
  for (const name of lanes.order) {
    if (name.seq > (content.lanes[name.lane] ?? -1)) continue;
    for (const r of lanes.read.get(name.key)!.records) applyRecord(expected, r);
  }
  const got = new Map(content.entries.map((e) => [e.path, e]));
  const differ = [...new Set([...expected.keys(), ...got.keys()])].filter((path) => JSON.stringify(expected.get(path)) !== JSON.stringify(got.get(path)));
  if (differ.length === 0) return;
  damage.push({
    kind: "checkpoint-mismatch",
    key: c.key,
    time: c.time,
    paths: differ.slice(0, MAX_LISTED_PATHS).sort(),
    pathCount: differ.length,
    message: `checkpoint ${c.key} disagrees with the batches it covers: ${differ.length} path(s) differ`,
  });
}
