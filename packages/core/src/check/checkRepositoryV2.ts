import { messageOf } from "../errors.js";
import { applyRecord } from "../repository/format.js";
import { isDamage } from "../repository/journal.js";
import type { CheckpointName } from "../repository/v2/laneBatch.js";
import { checkLane, mergeLanes, type LaneBatchName } from "../repository/v2/lanes.js";
import { packKey, type StoredBlob } from "../repository/v2/PackStore.js";
import type { RepositoryV2 } from "../repository/v2/RepositoryV2.js";
import type { FileEntry, IndexRecord } from "../types.js";
import { MAX_LISTED_DEPENDENTS, MAX_LISTED_PATHS, type Damage, type DependentVersion } from "./CheckReport.js";
import type { CheckOptions, CheckOutcome } from "./checkRepository.js";

type Batch = { name: LaneBatchName; blobs: StoredBlob[]; records: IndexRecord[] };

/**
 * Verifies a v2 repository (docs/format-v2.md) without restoring it: every lane batch is read and verified and each
 * lane's sequence, chain and times checked; every checkpoint is read and compared, entry by entry, with the merge of
 * the batches it covers; every blob a file names must be located by a batch and lie inside a listed pack (one
 * listing of `packs/`); with `readData`, every pack (or the `subset` of pack ids) is read blob by blob, each one
 * decompressed and re-hashed. Each damaged blob lists the versions that need it. Nothing is written.
 */
export async function checkRepositoryV2(repo: RepositoryV2, options: CheckOptions = {}): Promise<CheckOutcome> {
  options.onPhase?.("index");
  const damage: Damage[] = [];
  const lanes = await repo.lanes();
  const usable: LaneBatchName[][] = [];
  const read = new Map<string, Batch>();
  let batchCount = 0;
  for (const [lane, names] of lanes) {
    batchCount += names.length;
    const ok: { name: LaneBatchName; prev: string | null }[] = [];
    for (const name of names) {
      try {
        const batch = await repo.readBatch(name);
        read.set(name.key, { name, ...batch });
        ok.push({ name, prev: batch.prev });
      } catch (err) {
        if (!isDamage(err)) throw err;
        damage.push({ kind: "batch-unreadable", key: name.key, seq: name.seq, time: name.time, message: `lane batch ${name.key} cannot be read: ${messageOf(err)}` });
      }
    }
    for (const p of checkLane(ok)) {
      if (p.kind === "gap") damage.push({ kind: "sequence-gap", missing: { from: p.seq, to: p.seq }, message: p.message });
      else if (!damage.some((d) => d.seq === p.seq && d.key?.startsWith(`lanes/${lane}/`))) damage.push({ kind: "batch-unreadable", seq: p.seq, message: p.message });
    }
    usable.push(ok.map((b) => b.name));
  }
  const order = mergeLanes(usable);
  const located = new Map<string, StoredBlob>();
  for (const name of order) for (const b of read.get(name.key)!.blobs) if (!located.has(b.id)) located.set(b.id, b);
  const checkpoints = await repo.checkpoints();
  for (const c of checkpoints) await checkCheckpoint(repo, c, order, read, damage);

  options.onPhase?.("content");
  const packs = new Map<string, number>();
  for await (const p of repo.packs.list()) packs.set(p.id, p.size);
  // Every version of every file: the blobs it needs, and whether it is the newest tree's.
  const tree = new Map<string, FileEntry>();
  const versions = new Map<string, DependentVersion[]>();
  const needed = new Map<string, { record: FileEntry; at: DependentVersion }[]>();
  for (const name of order) {
    for (const record of read.get(name.key)!.records) {
      applyRecord(tree, record);
      if (record.op !== "put" || record.type !== "file") continue;
      const at: DependentVersion = { path: record.path, seq: name.seq, time: name.time, key: name.key, current: false };
      for (const id of new Set(record.chunks)) {
        const list = needed.get(id) ?? [];
        list.push({ record, at });
        needed.set(id, list);
      }
    }
  }
  for (const list of needed.values()) for (const v of list) v.at.current = tree.get(v.at.path) === v.record;
  const bad = new Map<string, Damage>();
  const blobDamage = (id: string, kind: Damage["kind"], key: string, message: string) => {
    if (!bad.has(id)) bad.set(id, { kind, key, chunk: id, message });
  };
  let present = 0;
  for (const id of needed.keys()) {
    const blob = located.get(id);
    if (!blob) blobDamage(id, "chunk-missing", "", `blob ${id} is not located by any readable lane batch`);
    else if (!packs.has(blob.pack)) blobDamage(id, "chunk-missing", packKey(blob.pack), `pack ${packKey(blob.pack)} (holding blob ${id}) is missing`);
    else if (blob.offset + blob.length > packs.get(blob.pack)!) blobDamage(id, "chunk-corrupt", packKey(blob.pack), `pack ${packKey(blob.pack)} is shorter than blob ${id} needs`);
    else present++;
  }
  const named = new Set([...located.values()].map((b) => b.pack));
  let orphans = 0;
  let orphanBytes = 0;
  for (const [id, size] of packs) if (!named.has(id)) (orphans++, (orphanBytes += size));
  let chunksRead = 0;
  let bytesRead = 0;
  if (options.readData) {
    const toRead = [...needed.keys()].filter((id) => !bad.has(id) && located.has(id) && (!options.subset || options.subset.includes(located.get(id)!.pack)));
    for (const id of toRead) {
      const blob = located.get(id)!;
      try {
        await repo.packs.read(blob);
      } catch (err) {
        if (!isDamage(err)) throw err;
        blobDamage(id, "chunk-corrupt", packKey(blob.pack), `blob ${id} in pack ${packKey(blob.pack)} does not verify: ${messageOf(err)}`);
      }
      chunksRead++;
      bytesRead += blob.length;
      options.onRead?.(chunksRead, toRead.length);
    }
  }
  options.onPhase?.("replay");
  for (const [id, d] of bad) {
    const list = (needed.get(id) ?? []).map((v) => v.at);
    const current = list.filter((v) => v.current).length;
    d.dependents = list.slice(0, MAX_LISTED_DEPENDENTS);
    d.dependentCount = list.length;
    d.message += `; needed by ${list.length} version(s) of ${new Set(list.map((v) => v.path)).size} path(s)${current ? `, ${current} of them current` : ""}`;
    damage.push(d);
  }
  return {
    damage,
    warnings: [],
    tree,
    summary: {
      batches: batchCount,
      checkpoints: checkpoints.length,
      lastSequence: batchCount - 1,
      chunksReferenced: needed.size,
      chunksPresent: present,
      chunksRead,
      bytesRead,
      orphans,
      orphanBytes,
      damaged: damage.length,
      warnings: 0,
    },
  };
}

/** A checkpoint must read, and hold exactly the tree the batches it covers give. */
async function checkCheckpoint(
  repo: RepositoryV2,
  c: CheckpointName,
  order: readonly LaneBatchName[],
  read: ReadonlyMap<string, Batch>,
  damage: Damage[],
): Promise<void> {
  let content;
  try {
    content = await repo.readCheckpoint(c);
  } catch (err) {
    if (!isDamage(err)) throw err;
    damage.push({ kind: "checkpoint-unreadable", key: c.key, time: c.time, message: `checkpoint ${c.key} cannot be read: ${messageOf(err)}` });
    return;
  }
  const expected = new Map<string, FileEntry>();
  for (const name of order) {
    if (name.seq > (content.lanes[name.lane] ?? -1)) continue;
    for (const r of read.get(name.key)!.records) applyRecord(expected, r);
  }
  const differ: string[] = [];
  const got = new Map(content.entries.map((e) => [e.path, e]));
  for (const path of new Set([...expected.keys(), ...got.keys()])) {
    if (JSON.stringify(expected.get(path)) !== JSON.stringify(got.get(path))) differ.push(path);
  }
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
