/**
 * Removes secrets from text before it reaches a log line, an error message or stats. It learns secrets as they
 * become known: static credentials when the storage is built, and the access key id and session token of
 * provider-supplied credentials when a request is signed with them.
 */
export class Redactor {
  readonly #secrets = new Set<string>();

  /** Registers secrets to hide. Empty and very short values are ignored (they would mask ordinary text). */
  add(...values: (string | undefined)[]): void {
    for (const v of values) if (v !== undefined && v.length >= 4) this.#secrets.add(v);
  }

  /** `text` with every known secret replaced by `***`. */
  redact(text: string): string {
    let out = text;
    for (const secret of this.#secrets) if (out.includes(secret)) out = out.split(secret).join("***");
    return out;
  }
}
