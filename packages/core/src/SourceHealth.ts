/** How a change source is doing: `watching` (all well), `degraded` (it lost events and rescans cover them), `stopped`. */
export type SourceState = "watching" | "degraded" | "stopped";

/** What one source reports about itself (see {@link SourceHealthBoard.report}). */
export interface SourceHealthReport {
  readonly state: SourceState;
  /** Events the source knows it lost since start (each one covered by a rescan). */
  readonly eventsLost?: number;
  /** The last error the source met, as text (never a secret). */
  readonly lastError?: string | undefined;
  /** Free-form detail for the status line, e.g. the mounts being watched. */
  readonly detail?: string | undefined;
}

/** One source's entry in {@link AgentStats}-style output. */
export interface SourceHealth {
  readonly name: string;
  readonly state: SourceState;
  readonly eventsLost: number;
  readonly lastError: string | undefined;
  readonly lastErrorAt: string | undefined;
  readonly detail: string | undefined;
  readonly since: string;
}

/**
 * The engine's board of change-source health. Sources call {@link report} whenever their state changes (and after
 * losing events); `stats()` and the daemon's status line read {@link list}. A source that stops can never look
 * healthy: `stopped` stays until the source reports again.
 */
export class SourceHealthBoard {
  readonly #entries = new Map<string, { -readonly [K in keyof SourceHealth]: SourceHealth[K] }>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Records the current health of source `name`; counts and the last error are kept when a report omits them. */
  report(name: string, report: SourceHealthReport): void {
    const now = new Date(this.#now()).toISOString();
    const old = this.#entries.get(name);
    const entry = old ?? {
      name,
      state: report.state,
      eventsLost: 0,
      lastError: undefined,
      lastErrorAt: undefined,
      detail: undefined,
      since: now,
    };
    if (old && old.state !== report.state) entry.since = now;
    entry.state = report.state;
    if (report.eventsLost !== undefined) entry.eventsLost = report.eventsLost;
    if (report.lastError !== undefined && report.lastError !== entry.lastError) {
      entry.lastError = report.lastError;
      entry.lastErrorAt = now;
    }
    if (report.detail !== undefined) entry.detail = report.detail;
    this.#entries.set(name, entry);
  }

  /** Forgets a source (it was shut down on purpose). */
  remove(name: string): void {
    this.#entries.delete(name);
  }

  /** Every source, in the order they first reported. */
  list(): SourceHealth[] {
    return [...this.#entries.values()].map((e) => ({ ...e }));
  }

  /** The worst state of any source, or undefined when none reported. */
  get worst(): SourceState | undefined {
    let worst: SourceState | undefined;
    for (const e of this.#entries.values()) {
      if (e.state === "stopped") return "stopped";
      if (e.state === "degraded" || worst === undefined) worst = e.state;
    }
    return worst;
  }

  /** One line for logs and the status line: `fanotify watching, 0 lost` per source. */
  summary(): string {
    if (this.#entries.size === 0) return "no change source";
    return [...this.#entries.values()].map((e) => `${e.name} ${e.state}, ${e.eventsLost} lost${e.lastError ? ` (last error: ${e.lastError})` : ""}`).join("; ");
  }
}
