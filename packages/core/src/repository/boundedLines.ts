import type { Readable } from "node:stream";

/** A line longer than the limit: the reader stops before buffering more of it. */
export class LineTooLongError extends Error {}

/**
 * Splits a byte stream into UTF-8 lines (without the `\n`), never holding more than `maxLineBytes` of one line: a
 * longer line (a decompression bomb that inflates to one huge line) is a {@link LineTooLongError} once the limit is
 * passed, so memory stays bounded whatever the stream holds. A final piece without `\n` is yielded as a line too;
 * `endedWithNewline` tells the caller whether the stream was complete.
 */
export async function* boundedLines(
  input: Readable,
  maxLineBytes: number,
  state: { endedWithNewline: boolean } = { endedWithNewline: true },
): AsyncIterable<string> {
  let parts: Buffer[] = [];
  let held = 0;
  for await (const chunk of input) {
    let data = chunk as Buffer;
    for (;;) {
      const nl = data.indexOf(10);
      if (nl < 0) break;
      if (held + nl > maxLineBytes) throw new LineTooLongError(`a line is longer than ${maxLineBytes} bytes`);
      parts.push(data.subarray(0, nl));
      yield Buffer.concat(parts).toString("utf8");
      parts = [];
      held = 0;
      data = data.subarray(nl + 1);
    }
    if (data.length) {
      held += data.length;
      if (held > maxLineBytes) throw new LineTooLongError(`a line is longer than ${maxLineBytes} bytes`);
      parts.push(data);
    }
  }
  state.endedWithNewline = held === 0;
  if (held > 0) yield Buffer.concat(parts).toString("utf8");
}
