type Write = (chunk: unknown, ...rest: unknown[]) => boolean;

const ERASE = "\r\x1b[K";

/**
 * One status line at the bottom of a terminal, redrawn in place, that other output never lands in the middle of:
 * while it is open every write to its stream (and to stdout when that is a terminal too) first erases the line, and
 * the line is drawn again once the other text has ended its line. Only for terminals (`isTTY`).
 */
export class StatusLine {
  readonly #out: NodeJS.WriteStream;
  readonly #restore: (() => void)[] = [];
  readonly #write: Write;
  #text = "";
  #shown = false;
  /** Other output left the cursor in the middle of a line: drawing now would append to it. */
  #midLine = false;

  constructor(out: NodeJS.WriteStream = process.stderr, also: readonly NodeJS.WriteStream[] = [process.stdout]) {
    this.#out = out;
    this.#write = out.write.bind(out) as Write;
    for (const stream of new Set([out, ...also.filter((s) => s.isTTY)])) this.#intercept(stream);
  }

  #intercept(stream: NodeJS.WriteStream): void {
    const previous = stream.write;
    const write = previous.bind(stream) as Write;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      this.#erase();
      const ok = write(chunk, ...rest);
      const text = typeof chunk === "string" ? chunk : Buffer.isBuffer(chunk) ? chunk.toString("latin1") : "";
      if (text.length) this.#midLine = !text.endsWith("\n");
      this.#draw();
      return ok;
    }) as typeof stream.write;
    this.#restore.push(() => {
      stream.write = previous;
    });
  }

  #erase(): void {
    if (!this.#shown) return;
    this.#write(ERASE);
    this.#shown = false;
  }

  #draw(): void {
    if (this.#midLine || this.#text === "") return;
    this.#write(`${ERASE}${this.#text}`);
    this.#shown = true;
  }

  /** Shows `text` (cut to the terminal's width) in place of the previous status. */
  update(text: string): void {
    const cols = this.#out.columns || 120;
    this.#text = text.length > cols - 1 ? text.slice(0, cols - 1) : text;
    this.#draw();
  }

  /** Stops intercepting; the last status stays on screen as an ordinary line (`keep`) or is erased. */
  close(keep = true): void {
    for (const undo of this.#restore.splice(0)) undo();
    if (this.#shown && keep) this.#write("\n");
    else this.#erase();
    this.#shown = false;
    this.#text = "";
  }
}
