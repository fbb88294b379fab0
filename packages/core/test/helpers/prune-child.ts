// A prune in a process of its own, for kill tests: `node --import tsx prune-child.ts <store> <now> <graceMs> <killAt>`
// runs a prune of the local store and SIGKILLs itself as the <killAt>-th put or delete starts (0: never). Prints
// the number of puts and deletes it made when it completes.
import { KEEP_EVERYTHING, LocalDirectoryStorage, prune, type Body } from "@rtbackup/core";
import { RepositoryV2 } from "@rtbackup/core/v2";

const [store, nowText, graceText, killText] = process.argv.slice(2);
const killAt = Number(killText);
let calls = 0;

/** A local store that counts its writes and deletes, and dies at one of them. */
class DyingStorage extends LocalDirectoryStorage {
  #tick(): void {
    calls++;
    if (calls === killAt) process.kill(process.pid, "SIGKILL");
  }
  override async put(key: string, body: Body, size: number): Promise<void> {
    this.#tick();
    return super.put(key, body, size);
  }
  override async delete(key: string): Promise<void> {
    this.#tick();
    return super.delete(key);
  }
}

const repo = await RepositoryV2.open(new DyingStorage({ path: store! }));
const policy = { ...KEEP_EVERYTHING, keepWithin: 6 * 3_600_000, keepDaily: 2, keepDeleted: 24 * 3_600_000 };
await prune(repo, { policy, now: Number(nowText), graceMs: Number(graceText) });
console.log(JSON.stringify({ calls }));
