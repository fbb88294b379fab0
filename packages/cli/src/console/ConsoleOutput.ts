import { toXml } from "./toXml.js";

/** How `rtb console` prints: a human table, one JSON object per line, or DQD-style XML under `<RTBOutput>`. */
export type OutputMode = "human" | "json" | "xml";

/**
 * The console's output. Each reply is one item: JSON prints the result object on its own line, XML an element
 * (DQD's names: `Statistics`, `PathSubmitted`, `MonitorPaused`, ...) with a `TimestampUTC` attribute, and human
 * mode the text the caller formatted.
 */
export class ConsoleOutput {
  readonly mode: OutputMode;
  readonly #write: (text: string) => void;
  #open = false;

  constructor(mode: OutputMode, write: (text: string) => void = (t) => void process.stdout.write(t)) {
    this.mode = mode;
    this.#write = write;
  }

  /** Starts the document (XML's root element). */
  begin(): void {
    if (this.mode !== "xml" || this.#open) return;
    this.#open = true;
    this.#write(`<?xml version="1.0" encoding="utf-8"?>\n<RTBOutput>\n`);
  }

  /** Prints one item. */
  item(element: string, data: unknown, human: () => string): void {
    if (this.mode === "json") this.#write(`${JSON.stringify(data)}\n`);
    else if (this.mode === "xml") this.#write(toXml(element, data, "  ", { TimestampUTC: new Date().toISOString() }));
    else this.#write(human().replace(/\n?$/, "\n"));
  }

  /** Prints an error (XML keeps the document well-formed; the others write to stderr). */
  error(message: string, code?: string): void {
    if (this.mode === "xml") this.#write(toXml("Error", { code, message }, "  ", { TimestampUTC: new Date().toISOString() }));
    else if (this.mode === "json") process.stderr.write(`${JSON.stringify({ error: { code, message } })}\n`);
    else process.stderr.write(`rtb: ${message}\n`);
  }

  /** Ends the document. */
  end(): void {
    if (this.mode !== "xml" || !this.#open) return;
    this.#open = false;
    this.#write("</RTBOutput>\n");
  }
}
