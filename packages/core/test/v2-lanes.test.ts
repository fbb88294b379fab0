// Format v2's lanes (docs/format-v2.md "Lanes"): names, headers, the chain check and the merge order that decides
// which writer's put of one path wins.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import type { FileEntry } from "@rtbackup/core";
import { applyRecord, checkLane, laneBatchKey, laneHeaderProblem, laneKey, mergeLanes, parseLaneBatchKey, type LaneBatchName } from "@rtbackup/core/v2";

const A = "a".repeat(32);
const B = "b".repeat(32);
const digest = (s: string) => createHash("sha256").update(s).digest("hex");

/** A lane's journal of `times.length` batches, chained. */
function lane(id: string, times: number[]): { name: LaneBatchName; prev: string | null }[] {
  let prev: string | null = null;
  return times.map((time, seq) => {
    const d = digest(`${id}:${seq}`);
    const name = parseLaneBatchKey(laneBatchKey(id, seq, time, d))!;
    const out = { name, prev };
    prev = d;
    return out;
  });
}

test("keys: a lane batch key round-trips; anything else is not one", () => {
  const key = laneBatchKey(A, 10_001, 1795000000000, digest("x"));
  assert.is(key, `lanes/${A}/batch/00000001/000000010001-1795000000000-${digest("x")}`);
  assert.equal(parseLaneBatchKey(key), { key, lane: A, seq: 10_001, time: 1795000000000, digest: digest("x") });
  assert.is(laneKey(A), `lanes/${A}/lane`);
  for (const bad of [
    key.replace("/00000001/", "/00000000/"),
    key.replace(A, "A".repeat(32)),
    key.replace("lanes/", "lane/"),
    `${key}x`,
    key.replace("-1795000000000-", "-179500000000-"),
  ]) {
    assert.is(parseLaneBatchKey(bad), undefined, bad);
  }
  assert.throws(() => laneKey("../x"), /not a lane id/);
});

test("headers must match their names, and chain from batch 0", () => {
  const [first, second] = lane(A, [1000, 2000]);
  const header = (name: LaneBatchName, prev: string | null, extra: object = {}) => ({
    v: 2,
    kind: "batch",
    lane: name.lane,
    seq: name.seq,
    time: name.time,
    count: 0,
    prev,
    ...extra,
  });
  assert.is(laneHeaderProblem(header(first!.name, null), first!.name), undefined);
  assert.is(laneHeaderProblem(header(second!.name, first!.name.digest), second!.name), undefined);
  assert.match(laneHeaderProblem(header(first!.name, first!.name.digest), first!.name)!, "null (batch 0)");
  assert.match(laneHeaderProblem(header(second!.name, null), second!.name)!, "previous batch's digest");
  assert.match(laneHeaderProblem(header(first!.name, null, { lane: B }), first!.name)!, "does not match its name");
  assert.match(laneHeaderProblem(header(first!.name, null, { v: 1 }), first!.name)!, "is not 2");
  assert.match(laneHeaderProblem(header(first!.name, null, { count: -1 }), first!.name)!, "count");
});

test("the chain check finds a gap, a batch that does not follow, a time that goes back, and two batches of one number", () => {
  assert.equal(checkLane(lane(A, [1, 2, 3])), []);
  const gapped = lane(A, [1, 2, 3, 4]).filter((b) => b.name.seq !== 1);
  assert.equal(
    checkLane(gapped).map((d) => [d.kind, d.seq]),
    [["gap", 2]],
  );
  const swapped = lane(A, [1, 2, 3]);
  swapped[2] = { ...swapped[2]!, prev: digest("someone else's batch") };
  assert.equal(
    checkLane(swapped).map((d) => [d.kind, d.seq]),
    [["chain", 2]],
  );
  assert.equal(
    checkLane(lane(A, [5, 4])).map((d) => [d.kind, d.seq]),
    [["time", 1]],
  );
  const twice = [...lane(A, [1, 2]), { name: parseLaneBatchKey(laneBatchKey(A, 1, 3, digest("other")))!, prev: null }];
  assert.equal(
    checkLane(twice).map((d) => d.kind),
    ["duplicate"],
  );
  assert.equal(checkLane(lane(A, [1, 2, 3]).slice(2), 2), [], "a check may start after a checkpoint's batch");
});

test("two writers put the same path: the later commit time wins, lane id breaks a tie; everything else of both is kept", () => {
  const entry = (path: string, size: number): FileEntry => ({ path, type: "file", size, mtimeMs: 0, mode: 0o644, uid: 0, gid: 0, chunks: [] });
  // What each lane's batches put, by sequence number.
  const puts = new Map<string, FileEntry[]>([
    [`${A}:0`, [entry("/shared", 1), entry("/a-only", 1)]],
    [`${B}:0`, [entry("/shared", 2), entry("/b-only", 2)]],
    [`${A}:1`, [entry("/tie", 1)]],
    [`${B}:1`, [entry("/tie", 2)]],
  ]);
  const replay = (aTimes: number[], bTimes: number[]) => {
    const tree = new Map<string, FileEntry>();
    for (const name of mergeLanes([lane(B, bTimes).map((b) => b.name), lane(A, aTimes).map((b) => b.name)])) {
      for (const e of puts.get(`${name.lane}:${name.seq}`)!) applyRecord(tree, { op: "put", ...e });
    }
    return Object.fromEntries([...tree].map(([p, e]) => [p, e.size]));
  };
  assert.equal(replay([1000, 5000], [2000, 5000]), { "/shared": 2, "/a-only": 1, "/b-only": 2, "/tie": 2 });
  assert.equal(replay([3000, 5000], [2000, 5000]), { "/shared": 1, "/a-only": 1, "/b-only": 2, "/tie": 2 }, "A committed later");
});

test.run();
