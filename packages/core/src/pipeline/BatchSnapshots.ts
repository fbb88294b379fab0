import type { Clock } from "../clock.js";
import type { Engine } from "../Engine.js";
import type { Logger } from "../logger.js";
import { MountTable } from "../mounts/MountTable.js";
import { SharedSnapshot, liveSnapshot } from "./SharedSnapshot.js";

/** The mount table, or null where /proc cannot be read (then everything is one filesystem). */
function readMounts(): MountTable | null {
  try {
    return MountTable.readSync();
  } catch {
    return null;
  }
}

/** What {@link BatchSnapshots.take} returns. */
export interface TakenSnapshots {
  /** path → a reference to its filesystem's snapshot, already acquired for that path. */
  refs: Map<string, SharedSnapshot>;
  /** Paths whose filesystem's snapshot could not be taken, with the error. */
  failed: { paths: string[]; error: unknown }[];
}

/**
 * Stage 3: groups a batch's paths by filesystem (the `filesystem` hook, else the deepest mount point) and takes one
 * snapshot per filesystem through the `snapshot` hook (the live strategy when no plugin answers), shared and
 * reference-counted by the batch's files.
 */
export class BatchSnapshots {
  readonly #engine: Engine;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #active = new Set<SharedSnapshot>();
  #mounts: MountTable | undefined | null;

  constructor(engine: Engine, clock: Clock, log: Logger) {
    this.#engine = engine;
    this.#clock = clock;
    this.#log = log;
  }

  /** Snapshots currently held by some file. */
  get active(): number {
    return this.#active.size;
  }

  #filesystemOf(path: string): string {
    const named = this.#engine.hooks.filesystem.call(path);
    if (named) return named;
    this.#mounts ??= readMounts();
    return this.#mounts?.mountOf(path)?.mountPoint ?? "/";
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
          const snapshot = (await this.#engine.hooks.snapshot.promise({ filesystem, paths: list })) ?? liveSnapshot(filesystem, this.#clock.now());
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
