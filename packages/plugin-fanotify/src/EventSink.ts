import { isAgentOwnPath, type ChangeEvent, type Logger } from "@rtbackup/core";
import type { FanotifyStats } from "./FanotifyStats.js";
import type { RescanCoalescer } from "./RescanCoalescer.js";

/** Options of {@link EventSink}. */
export interface EventSinkOptions {
  /** The agent's own directories and any other ignored prefixes; `.zfs/snapshot` is always ignored (core's rule). */
  readonly ignorePaths: readonly string[];
  readonly stats: FanotifyStats;
  readonly logger: Logger;
  /** The engine's submit. */
  readonly submit: (event: ChangeEvent) => void;
  /** Where rescans go to be coalesced before they are submitted. */
  readonly rescans: RescanCoalescer;
}

/**
 * The last step of a fanotify source: drops events under ignored paths and `.zfs/snapshot`, collapses repeated
 * updates within a batch, sends rescans through the coalescer, and submits the rest to the engine.
 */
export class EventSink {
  readonly #options: EventSinkOptions;

  constructor(options: EventSinkOptions) {
    this.#options = options;
  }

  /** Filters and submits one translated batch. */
  submitAll(out: readonly ChangeEvent[]): void {
    // Collapse repeated updates of one path within a batch; any other event ends the run, to keep order meaningful.
    const seen = new Set<string>();
    for (const raw of out) {
      const event = this.#filter(raw);
      if (event === undefined) {
        this.#options.stats.ignored++;
        continue;
      }
      if (event.type === "rescan") {
        // Coalesced: a burst of lost events or of directories with events becomes a few rescans a second later.
        this.#options.stats.rescansRequested++;
        this.#options.rescans.add(event.path, event.reason ?? "fanotify");
        continue;
      }
      if (event.type === "update") {
        if (seen.has(event.path)) {
          this.#options.stats.deduplicated++;
          continue;
        }
        seen.add(event.path);
      } else {
        seen.clear();
      }
      this.submit(event);
    }
  }

  /** Submits one event to the engine; a refusal is counted and logged once. */
  submit(event: ChangeEvent): void {
    try {
      this.#options.submit(event);
      this.#options.stats.submitted++;
    } catch (err) {
      if (this.#options.stats.submitErrors++ === 0) this.#options.logger.error("engine refused a fanotify event", err);
    }
  }

  #filter(event: ChangeEvent): ChangeEvent | undefined {
    if (event.type !== "move") return this.#ignored(event.path) ? undefined : event;
    const fromIgnored = this.#ignored(event.from);
    const toIgnored = this.#ignored(event.to);
    if (fromIgnored && toIgnored) return undefined;
    if (toIgnored) return { type: "delete", path: event.from };
    if (fromIgnored) return { type: "rescan", path: event.to, reason: "moved in from an ignored path" };
    return event;
  }

  #ignored(path: string): boolean {
    return isAgentOwnPath(path, this.#options.ignorePaths);
  }
}
