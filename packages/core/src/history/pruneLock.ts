import { hostname } from "node:os";
import { BackupError, isErrno } from "../errors.js";
import { collectStream } from "../io/collectStream.js";
import type { RepositoryV2 } from "../repository/v2/RepositoryV2.js";

/** `index/pruning/<lane>`: a prune is writing that lane (deleted once its base is stored and the deletions done). */
export const pruningKey = (lane: string) => `index/pruning/${lane}`;

/** A marker older than this, written on another host, is taken for one a killed prune left. */
const STALE_MS = 24 * 3_600_000;

interface Marker {
  lane: string;
  time: number;
  host: string;
  pid: number;
}

/** Whether the prune that wrote `m` may still run: its process lives (this host), or it is younger than a day. */
function mayRun(m: Marker, now: number): boolean {
  if (m.host !== hostname()) return now - m.time < STALE_MS;
  try {
    process.kill(m.pid, 0);
    return true;
  } catch (err) {
    return !isErrno(err, "ESRCH");
  }
}

/**
 * One prune at a time (docs/history.md): writes this prune's marker, then looks at the others. A marker of a prune
 * that may still run, written before ours (time, then lane), makes this one give way: its marker is removed and a
 * LOCKED error says who holds the repository. So does a base newer than `base` (the one this prune read): another
 * prune finished meanwhile, and this one would rewrite a stale index. `force` ignores other markers.
 */
export async function takePruneLock(repo: RepositoryV2, lane: string, o: { now: number; base: string | undefined; force: boolean }): Promise<void> {
  const mine: Marker = { lane, time: o.now, host: hostname(), pid: process.pid };
  const body = Buffer.from(`${JSON.stringify(mine)}\n`);
  await repo.storage.put(repo.prefix + pruningKey(lane), body, body.length);
  const giveWay = async (why: string): Promise<never> => {
    await repo.storage.delete(repo.prefix + pruningKey(lane));
    throw new BackupError("LOCKED", `rtb forget: ${why}`);
  };
  if (!o.force) {
    for await (const info of repo.storage.list(`${repo.prefix}index/pruning/`)) {
      const other = info.key.slice(info.key.lastIndexOf("/") + 1);
      if (other === lane) continue;
      let m: Marker;
      try {
        m = JSON.parse((await collectStream(await repo.storage.get(info.key))).toString("utf8")) as Marker;
      } catch {
        continue; // an empty or damaged marker is what an older or killed prune left
      }
      if (!mayRun(m, o.now) || m.time > mine.time || (m.time === mine.time && m.lane > lane)) continue;
      await giveWay(
        `another prune may be running on this repository (${m.host}, pid ${m.pid}, since ${new Date(m.time).toISOString()}): run one at a time; if it was killed, its marker ${info.key} goes once it is a day old, or run with --force`,
      );
    }
  }
  const newest = (await repo.bases()).at(-1)?.key;
  if (newest !== o.base) await giveWay(`another prune stored ${newest} while this one read the index: run it again`);
}
