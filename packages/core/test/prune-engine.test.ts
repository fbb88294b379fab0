// Prune beside a writing agent: a prune while a backup commits loses nothing committed; the agent's next start
// reads the tree again from the base and keeps its lane; content a prune forgot is uploaded again, never named
// without its bytes; and a later prune deletes the unneeded packs while every current file still restores.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { KEEP_EVERYTHING, LocalDirectoryStorage, StateCache, checkRepositoryV2, prune, type IndexRecord, type RetentionPolicy } from "@rtbackup/core";
import { RepositoryV2, encodeLaneBatch, laneBatchKey, packKey } from "@rtbackup/core/v2";
import { recordPuts } from "./helpers/counting.js";
import { backupOnce, describe, restoreAll, workspace } from "./helpers/tree.js";

const CURRENT_ONLY: RetentionPolicy = { ...KEEP_EVERYTHING, keepWithin: 0, keepDeleted: 0 };

test("prune while an agent backs up: nothing committed is lost; the agent restarts on the base and keeps its lane", async () => {
  const ws = await workspace();
  try {
    for (let i = 0; i < 30; i++) await writeFile(join(ws.src, `f${i}.txt`), `version 0 of ${i} `.repeat(40));
    await backupOnce(ws);
    for (let v = 1; v <= 3; v++) {
      for (let i = 0; i < 30; i += v) await writeFile(join(ws.src, `f${i}.txt`), `version ${v} of ${i} `.repeat(40));
      await backupOnce(ws);
    }
    const repo = await RepositoryV2.open(new LocalDirectoryStorage({ path: ws.store }));
    const lanesBefore = [...(await repo.lanes()).keys()];

    // A whole backup commits after the prune read the index and before it stores its base: its batches come after
    // the prune's cut, and must survive it.
    for (let i = 0; i < 30; i++) await writeFile(join(ws.src, `f${i}.txt`), `version 4 of ${i} `.repeat(40));
    await rm(join(ws.src, "f29.txt"));
    const steps: string[] = [];
    const pruned = await prune(repo, {
      policy: CURRENT_ONLY,
      graceMs: 0,
      onStep: async (step) => {
        steps.push(step);
        if (step === "history") await backupOnce(ws);
      },
    });
    assert.equal(steps, ["read", "repack", "history", "base", "delete"]);
    assert.ok(pruned.base);

    // The old content of f0 (version 0) is no longer needed by any kept version: a new file with it is uploaded
    // again (the agent forgot what was stored before the base), never named without its bytes.
    await writeFile(join(ws.src, "revived.txt"), `version 0 of 0 `.repeat(40));
    const puts: { key: string; size: number }[] = [];
    const scan = await backupOnce(ws, {}, (b) => recordPuts(b, puts));
    assert.is(scan.changed, 2, "only the new file and its directory changed: a prune does not make the agent read its files again");
    assert.ok(
      puts.some((p) => p.key.startsWith("packs/")),
      "the content is stored again",
    );
    const lanesAfter = [...(await repo.lanes()).keys()];
    assert.ok(
      lanesBefore.every((l) => lanesAfter.includes(l)),
      "the agent kept its lane",
    );

    const second = await prune(repo, { policy: CURRENT_ONLY, graceMs: 0 });
    assert.ok(second.deleted.packs > 0, "the packs the first prune found unneeded go");
    await backupOnce(ws);
    const { result } = await restoreAll(ws);
    assert.is(result.errors, 0);
    assert.equal(await describe(join(ws.out, ws.src.slice(1))), await describe(ws.src), "the restore is the source, revived.txt included");
    assert.equal((await checkRepositoryV2(repo, { readData: true })).damage, []);
  } finally {
    await ws.cleanup();
  }
});

test("a batch left in flight whose pack a prune deleted meanwhile is dropped, and its files are read again", async () => {
  const ws = await workspace();
  try {
    await writeFile(join(ws.src, "kept.txt"), "committed before the crash");
    await backupOnce(ws);
    // The crash: a pack stored, its batch encoded and noted in the state cache, never stored. Then, while the agent
    // was down, a prune found the pack named by no batch and a later one deleted it.
    await writeFile(join(ws.src, "lost.txt"), "written just before the crash");
    const repo = await RepositoryV2.open(new LocalDirectoryStorage({ path: ws.store }));
    const data = Buffer.from("written just before the crash");
    const id = repo.cipher.blobId(data);
    await repo.packs.add(id, data, true);
    const [blob] = await repo.packs.flush();
    const cache = await StateCache.open(ws.state);
    const state = cache.lane!;
    const record: IndexRecord = {
      op: "put",
      path: join(ws.src, "lost.txt"),
      type: "file",
      size: data.length,
      mtimeMs: 1,
      mode: 0o644,
      uid: 0,
      gid: 0,
      chunks: [id],
    };
    const seq = state.last!.seq + 1;
    const time = Date.now();
    const { body, digest } = encodeLaneBatch({ lane: state.lane, seq, time, prev: state.last!.digest }, [blob!], [record], repo.cipher);
    const key = laneBatchKey(state.lane, seq, time, digest);
    await cache.setLane({ ...state, inflight: { key, body, seq, records: [record], blobs: [id], packs: [blob!.pack] } });
    await cache.close();
    await rm(join(ws.store, packKey(blob!.pack)));

    await backupOnce(ws);
    const names = [...((await repo.lanes()).get(state.lane) ?? [])].map((n) => n.key);
    assert.not.ok(names.includes(key), "the batch naming the deleted pack was not stored");
    const { result } = await restoreAll(ws);
    assert.is(result.errors, 0);
    assert.equal(await describe(join(ws.out, ws.src.slice(1))), await describe(ws.src), "lost.txt was read again and committed");
    assert.equal((await checkRepositoryV2(repo, { readData: true })).damage, []);
  } finally {
    await ws.cleanup();
  }
});

test.run();
