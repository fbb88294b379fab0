import { messageOf, type Logger, type MountInfo } from "@rtbackup/core";

/** What {@link MountWatcher} needs. */
export interface MountWatcherOptions {
  /** The mounts that should be watched now, or undefined when the mount table has not changed since last time. */
  readonly select: () => Promise<MountInfo[] | undefined>;
  readonly intervalMs: number;
  readonly target: {
    readonly watched: readonly { readonly mountPoint: string }[];
    addMount(mount: MountInfo): boolean;
    removeMount(mountPoint: string): void;
  };
  readonly logger: Logger;
}

/**
 * Re-reads the mount table every `intervalMs` and tells the source about filesystems mounted (a new dataset) or
 * unmounted since start-up. A check that fails (say, a new bind mount makes the selection ambiguous) changes
 * nothing and is logged once per distinct message.
 */
export class MountWatcher {
  readonly #options: MountWatcherOptions;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #lastProblem = "";

  constructor(options: MountWatcherOptions) {
    this.#options = options;
  }

  /** Starts the periodic check (it never keeps the process alive). */
  start(): void {
    if (this.#timer || this.#options.intervalMs <= 0) return;
    this.#timer = setInterval(() => void this.check(), this.#options.intervalMs);
    this.#timer.unref();
  }

  /** Stops the periodic check. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One check now. */
  async check(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    const { select, target, logger } = this.#options;
    try {
      const selected = await select();
      if (selected === undefined || this.#timer === undefined) return;
      const wanted = new Set(selected.map((m) => m.mountPoint));
      for (const { mountPoint } of [...target.watched]) if (!wanted.has(mountPoint)) target.removeMount(mountPoint);
      const have = new Set(target.watched.map((w) => w.mountPoint));
      for (const mount of selected) if (!have.has(mount.mountPoint)) target.addMount(mount);
      this.#lastProblem = "";
    } catch (err) {
      const problem = messageOf(err);
      if (problem !== this.#lastProblem) logger.warn(`mount table check failed, watching what was watched: ${problem}`);
      this.#lastProblem = problem;
    } finally {
      this.#running = false;
    }
  }
}
