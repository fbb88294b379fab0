/** Longest B2 file name, in bytes of UTF-8. */
export const MAX_NAME_BYTES = 1024;
/** Longest segment (the part between slashes) of a B2 file name, in bytes of UTF-8. */
export const MAX_SEGMENT_BYTES = 250;

/**
 * Checks a name against B2's file name rules: valid UTF-8 of at most 1,024 bytes, no character below 32, no DEL,
 * no backslash, not starting or ending with `/`, no `//`, and at most 250 bytes between slashes. Returns what is
 * wrong, or `undefined` for a valid name.
 */
export function b2NameProblem(name: string): string | undefined {
  if (name.length === 0) return "the name is empty";
  if (!isWellFormed(name)) return "the name is not valid UTF-8 (unpaired surrogate)";
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `the name is longer than ${MAX_NAME_BYTES} bytes of UTF-8`;
  if (/[\u0000-\u001f\u007f]/.test(name)) return "the name has a control character (below 32, or DEL)";
  if (name.includes("\\")) return "the name has a backslash";
  if (name.startsWith("/")) return "the name starts with /";
  if (name.endsWith("/")) return "the name ends with /";
  if (name.includes("//")) return "the name contains //";
  for (const segment of name.split("/")) {
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) {
      return `a segment of the name is longer than ${MAX_SEGMENT_BYTES} bytes of UTF-8`;
    }
  }
  return undefined;
}

/**
 * Percent-encodes a file name for the `X-Bz-File-Name` header or a download URL path, keeping `/` as is. B2 decodes
 * `+` as a space, so `+` itself must be encoded (encodeURIComponent does).
 */
export function encodeB2Name(name: string): string {
  return name.split("/").map(encodeURIComponent).join("/");
}

/** Decodes a percent-encoded name as B2 does (`+` is a space). Throws a URIError on malformed input. */
export function decodeB2Name(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, " "));
}

function isWellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    }
  }
  return true;
}

/** Compares two names in B2's listing order: the byte order of their UTF-8 encodings. */
export function compareB2Names(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
