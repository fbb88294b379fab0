import type { ChangeEvent } from "@rtbackup/core";
import { destroyDataset } from "./destroyDataset.js";
import { diffToEvents, parseZfsDiff } from "./parseZfsDiff.js";
import type { SnapshotNaming } from "./SnapshotNaming.js";
import type { ZfsCommand } from "./ZfsCommand.js";
import type { ZfsDatasetTable } from "./ZfsDatasetTable.js";
import { ZfsError } from "./ZfsError.js";

/** A snapshot kept across restarts as "the state the remote index had": the base of an exact catch-up. */
export interface ZfsMark {
  /** `dataset@name`. */
  readonly name: string;
  readonly dataset: string;
  /** When it was taken (ms since the epoch). */
  readonly createdAt: number;
  /** Where the dataset is mounted now, if it is. */
  readonly filesystem: string | undefined;
}

/** Whether this platform can list changes since a snapshot. */
export type ZfsDiffSupport = { readonly supported: true } | { readonly supported: false; readonly reason: string };

/** The changes since a mark, or why they cannot be known (then the engine rescans). */
export type ZfsChanges = { readonly supported: true; readonly events: ChangeEvent[] } | { readonly supported: false; readonly reason: string };

/**
 * Exact catch-up after downtime through `zfs diff` (OpenZFS). The engine keeps a mark per dataset once everything
 * before it is committed; at the next start `changesSince(mark)` lists what changed while the agent was down. On
 * zfs-fuse, which has no `zfs diff`, `diffSupport()` and `changesSince()` say so, and the engine falls back to a
 * rescan. Marks are named `<prefix>-mark-<host>-<time>` and are never touched by stale-snapshot cleanup.
 */
export class ZfsChangeTracker {
  readonly #zfs: ZfsCommand;
  readonly #naming: SnapshotNaming;
  readonly #table: () => ZfsDatasetTable;
  readonly #busyRetryTime: number;
  #support: Promise<ZfsDiffSupport> | undefined;

  constructor(zfs: ZfsCommand, naming: SnapshotNaming, table: () => ZfsDatasetTable, busyRetryTime: number) {
    this.#zfs = zfs;
    this.#naming = naming;
    this.#table = table;
    this.#busyRetryTime = busyRetryTime;
  }

  /** Asks `zfs diff` once (without arguments) whether the subcommand exists; the answer is cached. */
  diffSupport(): Promise<ZfsDiffSupport> {
    this.#support ??= this.#zfs.run(["diff"]).then(
      (): ZfsDiffSupport => ({ supported: true }),
      (err: unknown): ZfsDiffSupport => {
        if (err instanceof ZfsError && err.reason === "unsupported") {
          return { supported: false, reason: "this ZFS (zfs-fuse) has no `zfs diff`; catch up with a rescan" };
        }
        // Without arguments OpenZFS prints its usage and fails: the subcommand exists.
        if (err instanceof ZfsError && err.reason === "failed") return { supported: true };
        this.#support = undefined;
        throw err;
      },
    );
    return this.#support;
  }

  /** Takes a mark of the dataset mounted at `filesystem`. */
  async createMark(filesystem: string): Promise<ZfsMark> {
    const mount = this.#table().mount(filesystem);
    if (!mount) throw new ZfsError("not-mounted", `no ZFS dataset is mounted at ${filesystem}`);
    const createdAt = Date.now();
    const name = `${mount.dataset}@${this.#naming.nextMark(createdAt)}`;
    await this.#zfs.run(["snapshot", name]);
    return { name, dataset: mount.dataset, createdAt, filesystem };
  }

  /** This host's marks on every pool, oldest first. */
  async listMarks(): Promise<ZfsMark[]> {
    const text = await this.#zfs.run(["list", "-H", "-o", "name", "-t", "snapshot"]);
    const byDataset = new Map(
      this.#table()
        .mounts.filter((m) => m.root === "/")
        .map((m) => [m.dataset, m.mountpoint]),
    );
    const marks: ZfsMark[] = [];
    for (const name of text.split("\n")) {
      const at = name.indexOf("@");
      if (at < 0) continue;
      const createdAt = this.#naming.parseMark(name.slice(at + 1));
      if (createdAt === undefined) continue;
      const dataset = name.slice(0, at);
      marks.push({ name, dataset, createdAt, filesystem: byDataset.get(dataset) });
    }
    return marks.sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Destroys a mark (it must be one of ours). */
  async dropMark(mark: ZfsMark | string): Promise<void> {
    const name = typeof mark === "string" ? mark : mark.name;
    const at = name.indexOf("@");
    if (at < 0 || this.#naming.parseMark(name.slice(at + 1)) === undefined) {
      throw new ZfsError("failed", `${name} is not a mark of this agent; refusing to destroy it`);
    }
    await destroyDataset(this.#zfs, name, this.#busyRetryTime);
  }

  /**
   * What changed on the mark's dataset between the mark and now, as events (removals first, then updates; see
   * {@link diffToEvents}). `{ supported: false }` when the platform has no `zfs diff`. A missing mark or a failed
   * diff throws a {@link ZfsError}: the engine should then rescan.
   */
  async changesSince(mark: ZfsMark | string): Promise<ZfsChanges> {
    const support = await this.diffSupport();
    if (!support.supported) return support;
    const name = typeof mark === "string" ? mark : mark.name;
    const dataset = name.slice(0, name.indexOf("@"));
    const text = await this.#zfs.run(["diff", "-F", "-H", name, dataset]);
    let entries;
    try {
      entries = parseZfsDiff(text);
    } catch (err) {
      throw new ZfsError("failed", `could not parse the output of zfs diff ${name}`, undefined, { cause: err });
    }
    return { supported: true, events: diffToEvents(entries) };
  }
}
