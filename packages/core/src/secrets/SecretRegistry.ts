/** What replaces a secret in any text that leaves the process. */
export const REDACTED = "[REDACTED]";

/** Secrets shorter than this are ignored: masking them would mangle ordinary text. */
export const MIN_SECRET_LENGTH = 6;

/** Ephemeral secrets (tokens) remembered at most; the oldest is forgotten first. */
export const MAX_EPHEMERAL_SECRETS = 1024;

const BASE64_CHAR = "[A-Za-z0-9+/_-]";
const REPEATED = /(?:\[REDACTED\]){2,}/g;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
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
  const full = bytes.toString("base64");
  if (full.length >= 8) literal.add(full);
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
  #pattern: RegExp | null | undefined;

  constructor(options: { maxEphemeral?: number } = {}) {
    this.#maxEphemeral = options.maxEphemeral ?? MAX_EPHEMERAL_SECRETS;
  }

  /** Registers long-lived secrets (configured keys). Non-strings, empty and short values are ignored. */
  add(...values: unknown[]): void {
    for (const v of values) {
      if (typeof v !== "string" || v.length < MIN_SECRET_LENGTH || this.#permanent.has(v)) continue;
      this.#permanent.add(v);
      this.#pattern = undefined;
    }
  }

  /** Registers short-lived secrets (auth and upload tokens); only the newest {@link MAX_EPHEMERAL_SECRETS} are kept. */
  addEphemeral(...values: unknown[]): void {
    for (const v of values) {
      if (typeof v !== "string" || v.length < MIN_SECRET_LENGTH || this.#permanent.has(v)) continue;
      // Re-adding moves a token to the newest end.
      this.#ephemeral.delete(v);
      this.#ephemeral.add(v);
      while (this.#ephemeral.size > this.#maxEphemeral) this.#ephemeral.delete(this.#ephemeral.values().next().value!);
      this.#pattern = undefined;
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
    this.#pattern = undefined;
  }

  /** `text` with every spelling of every known secret replaced by {@link REDACTED}. */
  redact(text: string): string {
    const pattern = this.#compile();
    if (!pattern || typeof text !== "string") return text;
    // Adjacent spellings (the key id and key inside one HTTP Basic value) collapse into one marker.
    return text.replace(pattern, REDACTED).replace(REPEATED, REDACTED);
  }

  #compile(): RegExp | null {
    if (this.#pattern !== undefined) return this.#pattern;
    const literal = new Set<string>();
    const base64 = new Set<string>();
    for (const secret of [...this.#permanent, ...this.#ephemeral]) {
      const s = spellings(secret);
      for (const l of s.literal) literal.add(l);
      for (const b of s.base64) base64.add(b);
    }
    // Longest first, so a longer spelling wins over a shorter one that it contains.
    const alternatives = [
      ...[...base64].sort((a, b) => b.length - a.length).map((b) => `${BASE64_CHAR}{0,3}${escapeRegExp(b)}${BASE64_CHAR}{0,3}={0,2}`),
      ...[...literal].sort((a, b) => b.length - a.length).map(escapeRegExp),
    ];
    this.#pattern = alternatives.length ? new RegExp(alternatives.join("|"), "g") : null;
    return this.#pattern;
  }
}

/** The registry of this process: everything that writes outside the process redacts with it. */
export const processSecrets = new SecretRegistry();

/** `text` with every secret known to {@link processSecrets} replaced by {@link REDACTED}. */
export function redactSecrets(text: string): string {
  return processSecrets.redact(text);
}
