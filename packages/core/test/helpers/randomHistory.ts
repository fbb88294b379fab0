// A random history for the history tests: puts, moves and deletes of files and directories over two lanes, with a
// name that is not UTF-8 and a path longer than a key, the same every run for a seed.
import * as assert from "uvu/assert";
import type { IndexRecord } from "@rtbackup/core";
import type { LaneWriter, RepositoryV2 } from "@rtbackup/core/v2";
import { putFile } from "./timeline.js";

const MIN = 60_000;
export const LONG = `/data/${"l".repeat(1100)}`;

/** A small deterministic generator, mulberry32 (the same history every run). */
function random(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
}

const dirPut = (path: string): IndexRecord => ({ op: "put", path, type: "dir", size: 0, mtimeMs: 0, mode: 0o755, uid: 0, gid: 0, chunks: [] });

/** `commits` commits alternating between two lanes: file puts, directory moves and deletes, now and then a move back. */
export async function randomHistory(repo: RepositoryV2, lanes: LaneWriter[], commits: number, start: number, seed: number): Promise<Set<string>> {
  const pick = random(seed);
  const dirs = ["/data/a", "/data/b", "/data/a/sub", "/data/\udc80raw", "/data/c"];
  const names = new Set<string>(["/", "/data", LONG]);
  const kinds = new Set<string>();
  for (let i = 0; i < commits; i++) {
    const records: IndexRecord[] = [];
    for (let k = 0; k < 1 + pick(4); k++) {
      const roll = pick(10);
      const dir = dirs[pick(dirs.length)]!;
      const file = `${dir}/f${pick(4)}`;
      if (roll < 6) records.push(dirPut(dir), await putFile(repo, file, `${file} ${i} ${k}`));
      else if (roll === 6) records.push(await putFile(repo, LONG, `long ${i}`));
      else if (roll === 7) records.push({ op: "delete", path: pick(2) ? dir : file });
      else {
        const to = dirs[pick(dirs.length)]!;
        records.push(pick(2) ? { op: "move", from: dir, to } : { op: "move", from: file, to: `${to}/f${pick(4)}` });
      }
      for (const r of records) for (const p of r.op === "move" ? [r.from, r.to] : [r.path]) names.add(p);
    }
    for (const r of records) if (r.op !== "put") kinds.add(`${r.op} ${dirs.includes(r.op === "move" ? r.from : r.path) ? "dir" : "file"}`);
    await lanes[i % 2]!.commit(records, { time: start + i * MIN });
  }
  for (const p of [...names]) for (let j = p.indexOf("/", 1); j > 0; j = p.indexOf("/", j + 1)) names.add(p.slice(0, j));
  assert.equal([...kinds].sort(), ["delete dir", "delete file", "move dir", "move file"], "the history has every kind of change");
  return names;
}
