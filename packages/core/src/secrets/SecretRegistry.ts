/** What replaces a secret in any text that leaves the process. */
export const REDACTED = "[REDACTED]";

/** Secrets shorter than this are ignored: masking them would mangle ordinary text. */
export const MIN_SECRET_LENGTH = 6;

/** Ephemeral secrets (tokens) remembered at most; the oldest is forgotten first. */
export const MAX_EPHEMERAL_SECRETS = 1024;

const BASE64_CHAR = /[A-Za-z0-9+/_-]/;

/** One way a secret can be written, and whether it is a base64 core (whose neighbouring characters go too). */
interface Spelling {
  readonly text: string;
  readonly base64: boolean;
}

/**
 * The spellings of `secret` that can appear in text: raw, URL-encoded, JSON-escaped, hex, and base64 (standard and
 * URL-safe) at each of the three byte offsets it can start at inside a longer encoded value, as in
 * `Basic base64(keyId:applicationKey)`. Base64 cores are widened by the partial characters around them.
 */
function spellings(secret: string): { literal: Set<string>; base64: Set<string> } {
  const literal = new Set<string>([secret]);
  literal.add(encodeURIComponent(secret));
  literal.add(JSON.stringify(secret).slice(1, -1));
  const bytes = Buffer.from(secret, "utf8");
  literal.add(bytes.toString("hex"));
  literal.add(bytes.toString("hex").toUpperCase());
  const base64 = new Set<string>();
  for (const skip of [0, 1, 2]) {
    const rest = bytes.subarray(skip);
    const whole = rest.subarray(0, rest.length - (rest.length % 3));
    const core = whole.toString("base64");
    // A core shorter than 8 characters could match ordinary words.
    if (core.length < 8) continue;
    base64.add(core);
    base64.add(whole.toString("base64url"));
  }
  // The whole value encoded on its own (padding included), as a core too: the characters around it may belong to it.
  const full = bytes.toString("base64");
  if (full.length >= 8) base64.add(full);
  return { literal, base64 };
}

/**
 * The secrets this process knows (configured keys, access tokens it was given) and the one place that removes them
 * from text. The logger, every {@link BackupError} message, bridge replies and the CLI's output pass through
 * {@link redact}, so a credential echoed back by a server never leaves the process.
 */
export class SecretRegistry {
  readonly #permanent = new Set<string>();
  readonly #ephemeral = new Set<string>();
  readonly #maxEphemeral: number;
  #index: Map<string, Spelling[]> | undefined;

  constructor(options: { maxEphemeral?: number } = {}) {
    this.#maxEphemeral = options.maxEphemeral ?? MAX_EPHEMERAL_SECRETS;
  }

  /** Registers long-lived secrets (configured keys). Non-strings, empty and short values are ignored. */
  add(...values: unknown[]): void {
    for (const v of values) {
      if (typeof v !== "string" || v.length < MIN_SECRET_LENGTH || this.#permanent.has(v)) continue;
      this.#permanent.add(v);
      this.#index = undefined;
    }
  }

  /** Registers short-lived secrets (auth and upload tokens); only the newest {@link MAX_EPHEMERAL_SECRETS} are kept. */
  addEphemeral(...values: unknown[]): void {
    for (const v of values) {
      if (typeof v !== "string" || v.length < MIN_SECRET_LENGTH || this.#permanent.has(v)) continue;
      // Re-adding (a signer seen on every request) only moves a token to the newest end: the index stays valid.
      if (this.#ephemeral.delete(v)) {
        this.#ephemeral.add(v);
        continue;
      }
      this.#ephemeral.add(v);
      while (this.#ephemeral.size > this.#maxEphemeral) this.#ephemeral.delete(this.#ephemeral.values().next().value!);
      this.#index = undefined;
    }
  }

  /** Secrets known now (permanent and ephemeral). */
  get size(): number {
    return this.#permanent.size + this.#ephemeral.size;
  }

  /** Forgets every secret (tests; a process that changes credentials keeps the old ones on purpose). */
  clear(): void {
    this.#permanent.clear();
    this.#ephemeral.clear();
    this.#index = undefined;
  }

  /** `text` with every spelling of every known secret replaced by {@link REDACTED}. */
  redact(text: string): string {
    if (typeof text !== "string" || text.length < MIN_SECRET_LENGTH) return text;
    const index = this.#compile();
    if (index.size === 0) return text;
    // One pass, one map lookup per position: the cost does not grow with the number of secrets.
    let out = "";
    let last = 0;
    let i = 0;
    while (i + MIN_SECRET_LENGTH <= text.length) {
      const hit = index.get(text.slice(i, i + MIN_SECRET_LENGTH))?.find((c) => text.startsWith(c.text, i));
      if (!hit) {
        i++;
        continue;
      }
      let start = i;
      let end = i + hit.text.length;
      if (hit.base64) {
        // The characters around a base64 core also encode bytes of the secret (mixed with its neighbours).
        for (let n = 0; n < 3 && start > last && BASE64_CHAR.test(text[start - 1]!); n++) start--;
        for (let n = 0; n < 3 && end < text.length && BASE64_CHAR.test(text[end]!); n++) end++;
        for (let n = 0; n < 2 && text[end] === "="; n++) end++;
      }
      // Adjacent spellings (the key id and key inside one HTTP Basic value) collapse into one marker.
      out += start === last && out.endsWith(REDACTED) ? "" : `${text.slice(last, start)}${REDACTED}`;
      last = end;
      i = end;
    }
    return last === 0 ? text : out + text.slice(last);
  }

  #compile(): Map<string, Spelling[]> {
    if (this.#index) return this.#index;
    const index = new Map<string, Spelling[]>();
    const seen = new Set<string>();
    const put = (text: string, base64: boolean) => {
      if (text.length < MIN_SECRET_LENGTH || seen.has(text)) return;
      seen.add(text);
      const key = text.slice(0, MIN_SECRET_LENGTH);
      const list = index.get(key) ?? [];
      list.push({ text, base64 });
      index.set(key, list);
    };
    for (const secret of [...this.#permanent, ...this.#ephemeral]) {
      const s = spellings(secret);
      for (const l of s.literal) put(l, false);
      for (const b of s.base64) put(b, true);
    }
    // Longest first, so a longer spelling wins over a shorter one that starts the same way.
    for (const list of index.values()) list.sort((a, b) => b.text.length - a.text.length);
    this.#index = index;
    return index;
  }
}

/** The registry of this process: everything that writes outside the process redacts with it. */
export const processSecrets = new SecretRegistry();

/** `text` with every secret known to {@link processSecrets} replaced by {@link REDACTED}. */
export function redactSecrets(text: string): string {
  return processSecrets.redact(text);
}
