import { BackupError } from "../errors.js";
import type { Logger } from "../logger.js";
import { SharedSnapshot } from "./SharedSnapshot.js";
import type { StageContext } from "./StageContext.js";

/** What {@link BatchSnapshots.take} returns. */
export interface TakenSnapshots {
  /** path → a reference to its filesystem's snapshot, already acquired for that path. */
  refs: Map<string, SharedSnapshot>;
  /** Paths whose filesystem's snapshot could not be taken, with the error. */
  failed: { paths: string[]; error: unknown }[];
}

/**
 * Stage 3: groups a batch's paths by filesystem (the `filesystem` hook; core's default answers with the deepest mount
 * point) and takes one snapshot per filesystem through the `snapshot` hook (core's default: the live strategy),
 * shared and reference-counted by the batch's files.
 */
export class BatchSnapshots {
  readonly #context: StageContext;
  readonly #log: Logger;
  readonly #active = new Set<SharedSnapshot>();

  constructor(context: StageContext) {
    this.#context = context;
    this.#log = context.logger("pipeline");
  }

  /** Snapshots currently held by some file. */
  get active(): number {
    return this.#active.size;
  }

  #filesystemOf(path: string): string {
    return this.#context.hooks.filesystem.call(path) ?? "/";
  }

  /** One snapshot per filesystem for these paths. */
  async take(paths: readonly string[]): Promise<TakenSnapshots> {
    const groups = new Map<string, string[]>();
    for (const p of paths) {
      const fs = this.#filesystemOf(p);
      const list = groups.get(fs) ?? [];
      list.push(p);
      groups.set(fs, list);
    }
    const result: TakenSnapshots = { refs: new Map(), failed: [] };
    await Promise.all(
      [...groups].map(async ([filesystem, list]) => {
        try {
          const snapshot = await this.#context.hooks.snapshot.promise({ filesystem, paths: list });
          if (!snapshot) throw new BackupError("PLUGIN_MISSING", `no snapshot strategy answered for ${filesystem}`);
          const shared = new SharedSnapshot(snapshot, this.#log, (s) => this.#active.delete(s));
          this.#active.add(shared);
          shared.acquire(); // the batch's own hold, released below once every file has its reference
          for (const p of list) result.refs.set(p, shared.acquire());
          shared.release();
        } catch (error) {
          result.failed.push({ paths: list, error });
        }
      }),
    );
    return result;
  }
}
