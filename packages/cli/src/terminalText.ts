import { encodeName, hasEscapedBytes } from "@rtbackup/core";

/**
 * A path (or any text in the agent's string form) made safe and unambiguous for a terminal line: bytes of a name
 * that are not UTF-8 (lone surrogates U+DC80..U+DCFF, see core's fsNames) print as `\xNN`, control characters as
 * `\n`, `\t` or `\xNN`, a backslash as `\\`; everything else prints as itself. `--json` output carries the exact
 * bytes instead (see {@link exactNameFields}).
 */
export function terminalText(text: string): string {
  return text.replace(/[\\\u0000-\u001f\u007f\u{dc80}-\u{dcff}]/gu, (ch) => {
    const code = ch.charCodeAt(0);
    if (ch === "\\") return "\\\\";
    if (ch === "\n") return "\\n";
    if (ch === "\t") return "\\t";
    const byte = code >= 0xdc80 ? code - 0xdc00 : code;
    return `\\x${byte.toString(16).padStart(2, "0")}`;
  });
}

/**
 * Extra `--json` fields for a path (and a symlink target) that is not UTF-8: `pathBase64` / `targetBase64` hold the
 * exact bytes, since JSON readers in some languages replace the lone-surrogate escapes (`\udcff`) of the plain field.
 */
export function exactNameFields(path: string, target?: string): { pathBase64?: string; targetBase64?: string } {
  return {
    ...(hasEscapedBytes(path) ? { pathBase64: encodeName(path).toString("base64") } : {}),
    ...(target !== undefined && hasEscapedBytes(target) ? { targetBase64: encodeName(target).toString("base64") } : {}),
  };
}
