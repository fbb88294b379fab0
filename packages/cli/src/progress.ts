/** Formats a byte count (1.5 MiB). */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** What a progress reporter shows. */
export interface ProgressSnapshot {
  phase: string;
  files: number;
  bytes: number;
  queued: number;
  uploadedBytes: number;
}

/**
 * Progress of a long operation: on a TTY one line redrawn in place (with rate), otherwise a plain line every
 * `intervalMs` so logs stay readable.
 */
export class Progress {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #read: () => ProgressSnapshot;
  readonly #started = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #lastLen = 0;

  constructor(read: () => ProgressSnapshot, options: { out?: NodeJS.WriteStream; intervalMs?: number; enabled?: boolean } = {}) {
    this.#out = options.out ?? process.stderr;
    this.#tty = Boolean(this.#out.isTTY);
    this.#read = read;
    if (options.enabled === false) return;
    const interval = options.intervalMs ?? (this.#tty ? 250 : 10_000);
    this.#timer = setInterval(() => this.#draw(), interval);
    this.#timer.unref();
  }

  #line(): string {
    const s = this.#read();
    const secs = Math.max((Date.now() - this.#started) / 1000, 0.001);
    const rate = s.bytes / secs;
    return `${s.phase}: ${s.files} files, ${formatBytes(s.bytes)} read, ${formatBytes(s.uploadedBytes)} uploaded, ${s.queued} queued, ${formatBytes(rate)}/s, ${secs.toFixed(0)} s`;
  }

  #draw(): void {
    const line = this.#line();
    if (this.#tty) {
      const cols = this.#out.columns || 120;
      const text = line.length > cols - 1 ? line.slice(0, cols - 1) : line;
      this.#out.write(`\r${text}${" ".repeat(Math.max(0, this.#lastLen - text.length))}`);
      this.#lastLen = text.length;
    } else {
      this.#out.write(`${new Date().toISOString()} ${line}\n`);
    }
  }

  /** Stops and prints the final line. */
  done(): void {
    if (this.#timer) clearInterval(this.#timer);
    if (this.#timer === undefined) return;
    this.#timer = undefined;
    this.#draw();
    if (this.#tty) this.#out.write("\n");
  }
}
