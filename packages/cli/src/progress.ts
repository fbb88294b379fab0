import { StatusLine } from "./StatusLine.js";
import { estimateRemainingMs, formatProgress, type ProgressSnapshot } from "./progressLine.js";

export { formatBytes } from "./formatBytes.js";
export type { ProgressSnapshot } from "./progressLine.js";

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** Where the line goes. Default process.stderr. */
  out?: NodeJS.WriteStream;
  /** Between redraws. Default 250 ms on a terminal, 10 s otherwise. */
  intervalMs?: number;
  /** False: nothing is shown. Default true. */
  enabled?: boolean;
  /** Plain lines when `out` is not a terminal. Default true; false shows progress on terminals only. */
  plain?: boolean;
  /** The clock (tests). */
  now?: () => number;
}

/**
 * Progress of a long operation. On a terminal one status line redrawn in place (see {@link StatusLine}: log lines and
 * other output are printed above it, never into it); otherwise a plain timestamped line every `intervalMs`. Once the
 * operation knows its total the line shows a percentage and an ETA.
 */
export class Progress {
  readonly #out: NodeJS.WriteStream;
  readonly #read: (elapsedMs: number) => ProgressSnapshot;
  readonly #now: () => number;
  readonly #started: number;
  readonly #status: StatusLine | undefined;
  #first: { atMs: number; done: number } | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(read: (elapsedMs: number) => ProgressSnapshot, options: ProgressOptions = {}) {
    this.#out = options.out ?? process.stderr;
    this.#read = read;
    this.#now = options.now ?? Date.now;
    this.#started = this.#now();
    const tty = Boolean(this.#out.isTTY);
    if (options.enabled === false || (!tty && options.plain === false)) return;
    if (tty) this.#status = new StatusLine(this.#out);
    this.#timer = setInterval(() => this.#draw(), options.intervalMs ?? (tty ? 250 : 10_000));
    this.#timer.unref();
    if (tty) this.#draw();
  }

  /** The current line's text. */
  line(): string {
    const now = this.#now();
    const elapsed = now - this.#started;
    const s = this.#read(elapsed);
    let remaining: number | undefined;
    if (s.total !== undefined && s.done !== undefined) {
      this.#first ??= { atMs: now, done: s.done };
      remaining = estimateRemainingMs(this.#first, { atMs: now, done: s.done }, s.total);
    }
    return formatProgress(s, elapsed, remaining);
  }

  #draw(): void {
    if (this.#status) this.#status.update(this.line());
    else this.#out.write(`${new Date().toISOString()} ${this.line()}\n`);
  }

  /** Stops and prints the final line. */
  done(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#status) {
      this.#status.update(this.line());
      this.#status.close(true);
    } else this.#draw();
  }
}
