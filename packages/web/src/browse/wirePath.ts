import { decodeName, encodeName } from "@rtbackup/core";

/**
 * How the browse API writes names and paths. Core holds a name as a string in which every byte that is not valid
 * UTF-8 is a lone surrogate (see core's fsNames); a browser can neither put such a string in a URL
 * (`encodeURIComponent` throws) nor be trusted to keep it through `JSON.parse`. So the API writes them as "wire"
 * text: a byte that is not part of valid UTF-8, and a control character (U+0000..U+001F, U+007F), is `\xNN` (two
 * lowercase hex digits), a backslash is `\\`, and everything else is itself. Wire text is plain, well-formed
 * Unicode; given back as a parameter it names the same bytes. It reads as `rtb list` prints names.
 */

/** Characters that wire text cannot hold as themselves: backslash, controls, any surrogate. */
const SPECIAL = /[\\\u0000-\u001f\u007f\uD800-\uDFFF]/;
/** A surrogate code unit that is not half of a valid pair. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const hex2 = (n: number) => n.toString(16).padStart(2, "0");

/** A name or path in core's string form, as wire text (see the module comment). */
export function toWire(text: string): string {
  if (!SPECIAL.test(text)) return text;
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      out += text.slice(i, i + 2);
      i++;
    } else if (unit >= 0xdc80 && unit <= 0xdcff) out += `\\x${hex2(unit - 0xdc00)}`;
    // Another lone surrogate stands for no byte: core writes it as U+FFFD's bytes, and so does this.
    else if (unit >= 0xd800 && unit <= 0xdfff) out += "\ufffd";
    else if (unit < 0x20 || unit === 0x7f) out += `\\x${hex2(unit)}`;
    else if (unit === 0x5c) out += "\\\\";
    else out += text[i];
  }
  return out;
}

/**
 * Wire text back to core's string form (canonical: the bytes it names, decoded as core decodes names), or
 * undefined when it is not wire text: a lone surrogate, or a backslash not followed by `\` or `xNN`.
 */
export function fromWire(wire: string): string | undefined {
  if (LONE_SURROGATE.test(wire)) return undefined;
  if (!wire.includes("\\")) return wire;
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = wire.indexOf("\\"); i >= 0; i = wire.indexOf("\\", start)) {
    parts.push(Buffer.from(wire.slice(start, i), "utf8"));
    if (wire[i + 1] === "\\") {
      parts.push(Buffer.of(0x5c));
      start = i + 2;
      continue;
    }
    const digits = wire.slice(i + 2, i + 4);
    if (wire[i + 1] !== "x" || !/^[0-9a-fA-F]{2}$/.test(digits)) return undefined;
    parts.push(Buffer.of(parseInt(digits, 16)));
    start = i + 4;
  }
  parts.push(Buffer.from(wire.slice(start), "utf8"));
  return decodeName(Buffer.concat(parts));
}

/** The number of bytes a name or path in core's form stands for. */
export function byteLength(text: string): number {
  return SPECIAL.test(text) ? encodeName(text).length : Buffer.byteLength(text, "utf8");
}
