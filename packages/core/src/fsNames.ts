import { isUtf8 } from "node:buffer";

/**
 * Linux names are bytes; the agent's paths are JS strings. This module is the one lossless mapping between them
 * (Python's "surrogateescape"): bytes that form valid UTF-8 decode as usual, and every byte that is not part of a
 * valid UTF-8 sequence becomes the lone surrogate U+DC00 + byte (0x80..0xFF → U+DC80..U+DCFF). Valid UTF-8 never
 * encodes a surrogate, so the mapping is reversible; JSON writes such a code unit as a `\udcXX` escape, so index
 * records carry it unchanged (docs/format.md, "Names").
 */

const ESCAPED = /[\u{DC80}-\u{DCFF}]/u;
const ANY_SURROGATE = /[\uD800-\uDFFF]/;

/** Decodes the bytes of a name or path to the agent's string form, losslessly. */
export function decodeName(bytes: Uint8Array): string {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isUtf8(buf)) return buf.toString("utf8");
  let out = "";
  let i = 0;
  while (i < buf.length) {
    const b0 = buf[i]!;
    if (b0 < 0x80) {
      out += String.fromCharCode(b0);
      i += 1;
      continue;
    }
    const length = sequenceLength(buf, i);
    if (length === 0) {
      out += String.fromCharCode(0xdc00 + b0);
      i += 1;
    } else {
      out += buf.toString("utf8", i, i + length);
      i += length;
    }
  }
  return out;
}

/** The length of the valid UTF-8 sequence (2..4 bytes) that starts at `i`, or 0 when the bytes there are invalid. */
function sequenceLength(buf: Buffer, i: number): number {
  const b0 = buf[i]!;
  const cont = (k: number): boolean => i + k < buf.length && (buf[i + k]! & 0xc0) === 0x80;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    const b1 = buf[i + 1]!;
    if (b0 === 0xe0 && b1 < 0xa0) return 0; // overlong
    if (b0 === 0xed && b1 >= 0xa0) return 0; // a surrogate encoded as UTF-8
    return 3;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const b1 = buf[i + 1]!;
    if (b0 === 0xf0 && b1 < 0x90) return 0; // overlong
    if (b0 === 0xf4 && b1 >= 0x90) return 0; // above U+10FFFF
    return 4;
  }
  return 0;
}

/** The bytes a string in the agent's form stands for: the inverse of {@link decodeName}. */
export function encodeName(name: string): Buffer {
  if (!ANY_SURROGATE.test(name)) return Buffer.from(name, "utf8");
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < name.length; i++) {
    const unit = name.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < name.length) {
      const next = name.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
    }
    if (unit >= 0xdc80 && unit <= 0xdcff) {
      parts.push(Buffer.from(name.slice(start, i), "utf8"), Buffer.of(unit - 0xdc00));
      start = i + 1;
    }
  }
  parts.push(Buffer.from(name.slice(start), "utf8"));
  return Buffer.concat(parts);
}

/** True when the string holds bytes that are not valid UTF-8 (escaped as lone surrogates). */
export function hasEscapedBytes(name: string): boolean {
  return ESCAPED.test(name);
}

/**
 * The argument to give `node:fs` for a path in the agent's form: the string itself when it is plain UTF-8 (the
 * common case, no copy), else its raw bytes as a Buffer, which `node:fs` passes to the kernel unchanged.
 */
export function fsPath(path: string): string | Buffer {
  return ESCAPED.test(path) ? encodeName(path) : path;
}
