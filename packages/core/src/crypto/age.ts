// The age file format, version 1 (age-encryption.org/v1), on node:crypto's primitives: X25519, HKDF-SHA-256,
// HMAC-SHA-256, ChaCha20-Poly1305 and scrypt. Files written here are decrypted by the age command given the identity
// (or passphrase), and files it writes are decrypted here; the tests check both ways. Only the two standard
// recipient types exist: X25519 keys (`age1…`) and a passphrase (scrypt, alone in its file).
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  randomBytes,
  scryptSync,
  timingSafeEqual,
} from "node:crypto";
import { bech32Decode, bech32Encode } from "./bech32.js";

const INTRO = "age-encryption.org/v1";
const CHUNK = 64 * 1024;
const TAG = 16;
/** DER prefixes of a raw X25519 key: PKCS#8 private, SubjectPublicKeyInfo public (RFC 8410). */
const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b656e032100", "hex");
/** The scrypt work factor age uses by default, and the most a decrypt accepts unless told otherwise. */
export const DEFAULT_LOG_N = 18;
const MAX_LOG_N = 22;

/** A file that is not age, damaged or forged, or that none of the given keys opens. */
export class AgeError extends Error {
  override readonly name = "AgeError";
}

/** An X25519 key pair in age's text forms. */
export interface AgeKeyPair {
  /** `AGE-SECRET-KEY-1…`: decrypts. */
  readonly identity: string;
  /** `age1…`: encrypts to it. */
  readonly recipient: string;
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64").replace(/=+$/, "");

/** Canonical unpadded base64, or an AgeError naming `what`. */
function unb64(s: string, what: string): Buffer {
  const out = Buffer.from(s, "base64");
  if (!/^[A-Za-z0-9+/]*$/.test(s) || b64(out) !== s) throw new AgeError(`age header: ${what} is not canonical unpadded base64`);
  return out;
}

const hkdf = (ikm: Uint8Array, salt: Uint8Array, info: string) => Buffer.from(hkdfSync("sha256", ikm, salt, info, 32));

function seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Buffer {
  const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG });
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}

/** Opens a sealed box, or `undefined` when it does not authenticate under `key`. */
function open(key: Uint8Array, nonce: Uint8Array, box: Uint8Array): Buffer | undefined {
  if (box.length < TAG) return undefined;
  const d = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG });
  d.setAuthTag(box.subarray(box.length - TAG));
  try {
    return Buffer.concat([d.update(box.subarray(0, box.length - TAG)), d.final()]);
  } catch {
    return undefined;
  }
}

const ZERO_NONCE = Buffer.alloc(12);

function privateKeyOf(secret: Uint8Array) {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secret]), format: "der", type: "pkcs8" });
}

function publicKeyOf(pub: Uint8Array) {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pub]), format: "der", type: "spki" });
}

function rawPublic(secret: Uint8Array): Buffer {
  return Buffer.from(createPublicKey(privateKeyOf(secret)).export({ type: "spki", format: "der" }).subarray(SPKI_PREFIX.length));
}

/** X25519(secret, pub), refusing the all-zero result of a low-order point. */
function x25519(secret: Uint8Array, pub: Uint8Array): Buffer {
  const shared = diffieHellman({ privateKey: privateKeyOf(secret), publicKey: publicKeyOf(pub) });
  if (shared.every((b) => b === 0)) throw new AgeError("age: an X25519 share is a low-order point");
  return shared;
}

/** A new X25519 key pair. */
export function generateAgeKeyPair(): AgeKeyPair {
  const secret = randomBytes(32);
  return { identity: bech32Encode("age-secret-key-", secret).toUpperCase(), recipient: bech32Encode("age", rawPublic(secret)) };
}

/** The raw secret of an `AGE-SECRET-KEY-1…` identity. */
function identitySecret(identity: string): Buffer {
  const d = bech32Decode(identity.trim());
  if (!d || d.hrp !== "age-secret-key-" || d.data.length !== 32) throw new AgeError("not an age X25519 identity (AGE-SECRET-KEY-1…)");
  return d.data;
}

/** The raw public key of an `age1…` recipient. */
function recipientKey(recipient: string): Buffer {
  const d = bech32Decode(recipient.trim());
  if (!d || d.hrp !== "age" || d.data.length !== 32) throw new AgeError(`${JSON.stringify(recipient.slice(0, 80))} is not an age X25519 recipient (age1…)`);
  return d.data;
}

/** The recipient (`age1…`) of an identity. */
export function recipientOf(identity: string): string {
  return bech32Encode("age", rawPublic(identitySecret(identity)));
}

interface Stanza {
  args: string[];
  body: Buffer;
}

function stanzaText({ args, body }: Stanza): string {
  const text = b64(body);
  const lines: string[] = [];
  for (let i = 0; i <= text.length; i += 64) lines.push(text.slice(i, i + 64));
  return `-> ${args.join(" ")}\n${lines.join("\n")}\n`;
}

/** What to encrypt to: X25519 recipients, or one passphrase (scrypt, with work factor 2^logN). */
export type AgeTo = { recipients: readonly string[] } | { passphrase: string; logN?: number };

/** Encrypts `plaintext` into one age file. */
export function ageEncrypt(plaintext: Uint8Array, to: AgeTo): Buffer {
  const parts: Buffer[] = [];
  ageEncryptTo([plaintext], plaintext.length, to, (bytes) => parts.push(Buffer.from(bytes)));
  return Buffer.concat(parts);
}

/** Chunks that straddle two of the parts given to {@link ageEncryptTo} are gathered here (one chunk, reused). */
let straddle: Buffer | undefined;

/**
 * Encrypts the concatenation of `parts` (`size` bytes) into one age file, handing its bytes to `out` in order: a
 * large object (a pack of many segments) is sealed chunk by chunk, never joined into one buffer first. `out` must
 * copy what it keeps: a view may be of memory used again.
 */
export function ageEncryptTo(parts: readonly Uint8Array[], size: number, to: AgeTo, out: (bytes: Uint8Array) => void): void {
  const fileKey = randomBytes(16);
  const head = `${INTRO}\n${stanzasFor(fileKey, to).map(stanzaText).join("")}---`;
  const mac = createHmac("sha256", hkdf(fileKey, Buffer.alloc(0), "header"))
    .update(head)
    .digest();
  const nonce = randomBytes(16);
  const payloadKey = hkdf(fileKey, nonce, "payload");
  out(Buffer.from(`${head} ${b64(mac)}\n`));
  out(nonce);
  const count = Math.max(1, Math.ceil(size / CHUNK));
  let part = 0;
  let at = 0;
  for (let i = 0; i < count; i++) {
    const length = Math.min(CHUNK, size - i * CHUNK);
    while (part < parts.length && at === parts[part]!.length) [part, at] = [part + 1, 0];
    let chunk: Uint8Array;
    if (length === 0) chunk = Buffer.alloc(0);
    else if (at + length <= parts[part]!.length) {
      chunk = parts[part]!.subarray(at, at + length);
      at += length;
    } else {
      straddle ??= Buffer.allocUnsafeSlow(CHUNK);
      for (let filled = 0; filled < length;) {
        while (at === parts[part]!.length) [part, at] = [part + 1, 0];
        const n = Math.min(length - filled, parts[part]!.length - at);
        straddle.set(parts[part]!.subarray(at, at + n), filled);
        [filled, at] = [filled + n, at + n];
      }
      chunk = straddle.subarray(0, length);
    }
    const c = createCipheriv("chacha20-poly1305", payloadKey, chunkNonce(i, i === count - 1), { authTagLength: TAG });
    out(c.update(chunk));
    out(c.final());
    out(c.getAuthTag());
  }
}

/** The recipient stanzas that wrap `fileKey` for `to`. */
function stanzasFor(fileKey: Buffer, to: AgeTo): Stanza[] {
  if ("passphrase" in to) {
    const salt = randomBytes(16);
    const logN = to.logN ?? DEFAULT_LOG_N;
    const key = scrypt(to.passphrase, salt, logN);
    return [{ args: ["scrypt", b64(salt), String(logN)], body: seal(key, ZERO_NONCE, fileKey) }];
  }
  if (to.recipients.length === 0) throw new AgeError("age: no recipient to encrypt to");
  return to.recipients.map((r) => {
    const pub = recipientKey(r);
    const ephemeral = randomBytes(32);
    const share = rawPublic(ephemeral);
    const wrap = hkdf(x25519(ephemeral, pub), Buffer.concat([share, pub]), "age-encryption.org/v1/X25519");
    return { args: ["X25519", b64(share)], body: seal(wrap, ZERO_NONCE, fileKey) };
  });
}

function scrypt(passphrase: string, salt: Uint8Array, logN: number): Buffer {
  const N = 2 ** logN;
  return scryptSync(Buffer.from(passphrase, "utf8"), Buffer.concat([Buffer.from("age-encryption.org/v1/scrypt"), salt]), 32, {
    N,
    r: 8,
    p: 1,
    maxmem: 128 * N * 8 + 16 * 1024 * 1024,
  });
}

/** STREAM's nonce: an 11-byte big-endian chunk counter, then 1 for the last chunk, 0 for the others. */
function chunkNonce(i: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeUIntBE(i, 5, 6);
  n[11] = last ? 1 : 0;
  return n;
}

/** An age header: its stanzas, the bytes its MAC covers, the MAC, and where the payload begins. */
interface Header {
  stanzas: Stanza[];
  macInput: Buffer;
  mac: Buffer;
  payloadStart: number;
}

function parseHeader(file: Buffer): Header {
  const bad = (why: string): never => {
    throw new AgeError(`not an age file, or a damaged one: ${why}`);
  };
  let at = 0;
  const line = (): string => {
    const end = file.indexOf(0x0a, at);
    if (end < 0 || end - at > 4096) bad("the header ends early");
    const text = file.toString("latin1", at, end);
    at = end + 1;
    return text;
  };
  if (line() !== INTRO) bad(`it does not start with ${INTRO}`);
  const stanzas: Stanza[] = [];
  for (;;) {
    const start = at;
    const l = line();
    if (l.startsWith("--- ")) {
      return { stanzas, macInput: file.subarray(0, start + 3), mac: unb64(l.slice(4), "the MAC"), payloadStart: at };
    }
    if (!l.startsWith("-> ")) bad("a header line is neither a stanza nor the MAC");
    const args = l.slice(3).split(" ");
    if (args.some((a) => a.length === 0 || !/^[\x21-\x7e]+$/.test(a))) bad("a stanza has an empty or non-ASCII argument");
    let text = "";
    for (;;) {
      const body = line();
      text += body;
      if (body.length > 64) bad("a stanza body line is longer than 64 columns");
      if (body.length < 64) break;
    }
    stanzas.push({ args, body: unb64(text, "a stanza body") });
    if (stanzas.length > 1000) bad("more than 1,000 stanzas");
  }
}

/** What opens a file: X25519 identities, or a passphrase (with the largest scrypt work factor to accept). */
export type AgeWith = { identities: readonly string[] } | { passphrase: string; maxLogN?: number };

/** The file key of a parsed header, unwrapped with `keys` and checked against the header's MAC. */
function fileKeyOf(header: Header, keys: AgeWith): Buffer {
  const { stanzas } = header;
  let fileKey: Buffer | undefined;
  const scryptStanza = stanzas.find((s) => s.args[0] === "scrypt");
  if (scryptStanza && stanzas.length !== 1) throw new AgeError("age: a scrypt stanza must be the only one in its file");
  if ("passphrase" in keys) {
    if (!scryptStanza) throw new AgeError("age: the file is not encrypted to a passphrase");
    const [, salt, logN] = scryptStanza.args;
    const n = Number(logN);
    if (scryptStanza.args.length !== 3 || !/^[1-9][0-9]?$/.test(logN ?? "")) throw new AgeError("age: a malformed scrypt stanza");
    if (n > (keys.maxLogN ?? MAX_LOG_N)) throw new AgeError(`age: scrypt work factor 2^${n} is more than this reader accepts`);
    const s = unb64(salt!, "the scrypt salt");
    if (s.length !== 16) throw new AgeError("age: the scrypt salt is not 16 bytes");
    fileKey = open(scrypt(keys.passphrase, s, n), ZERO_NONCE, scryptStanza.body);
    if (!fileKey) throw new AgeError("age: wrong passphrase");
  } else {
    const secrets = keys.identities.map(identitySecret);
    for (const s of stanzas) {
      if (s.args[0] !== "X25519" || fileKey) continue;
      if (s.args.length !== 2) throw new AgeError("age: a malformed X25519 stanza");
      const share = unb64(s.args[1]!, "an X25519 share");
      if (share.length !== 32 || s.body.length !== 32) throw new AgeError("age: a malformed X25519 stanza");
      for (const secret of secrets) {
        const pub = rawPublic(secret);
        const wrap = hkdf(x25519(secret, share), Buffer.concat([share, pub]), "age-encryption.org/v1/X25519");
        fileKey = open(wrap, ZERO_NONCE, s.body);
        if (fileKey) break;
      }
    }
    if (!fileKey) throw new AgeError("age: none of the identities given opens this file");
  }
  if (fileKey.length !== 16) throw new AgeError("age: the file key is not 16 bytes");
  const mac = createHmac("sha256", hkdf(fileKey, Buffer.alloc(0), "header"))
    .update(header.macInput)
    .digest();
  if (header.mac.length !== 32 || !timingSafeEqual(mac, header.mac)) throw new AgeError("age: the header's MAC does not match (altered header)");
  return fileKey;
}

/** Decrypts a whole age file; any damage, truncation, reordering or extension is an AgeError. */
export function ageDecrypt(file: Uint8Array, keys: AgeWith): Buffer {
  const buf = Buffer.isBuffer(file) ? file : Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const header = parseHeader(buf);
  const fileKey = fileKeyOf(header, keys);
  const nonce = buf.subarray(header.payloadStart, header.payloadStart + 16);
  if (nonce.length !== 16) throw new AgeError("age: the payload is cut short (no nonce)");
  const payloadKey = hkdf(fileKey, nonce, "payload");
  const body = buf.subarray(header.payloadStart + 16);
  const count = Math.max(1, Math.ceil(body.length / (CHUNK + TAG)));
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const box = body.subarray(i * (CHUNK + TAG), (i + 1) * (CHUNK + TAG));
    const last = i === count - 1;
    const plain = open(payloadKey, chunkNonce(i, last), box);
    if (!plain) throw new AgeError(`age: payload chunk ${i} does not authenticate (damaged, reordered, or the file was cut or extended)`);
    if (last && plain.length === 0 && i > 0) throw new AgeError("age: an empty last chunk after others");
    out.push(plain);
  }
  return Buffer.concat(out);
}

/**
 * Ranged reads of an age file: with its first bytes (the header and the payload nonce) and a key, any plaintext range
 * can be read from the ciphertext chunks that cover it, each authenticated on its own (chunks carry their index and
 * whether they are last, so a chunk moved or taken from another file is refused). What a pack reader needs to read
 * one blob of a large object.
 */
export class AgeRanges {
  private constructor(
    /** Where the payload's chunks begin (after the header and the 16-byte nonce). */
    readonly chunksStart: number,
    private readonly payloadKey: Buffer,
    /** The size of the whole age file, which says which chunk is the last. */
    readonly fileSize: number,
  ) {}

  /** Bytes a header may need at most, to ask for with the first read (a longer header is read again whole). */
  static readonly HEADER_GUESS = 1024;

  /**
   * Parses the header in `prefix` (the file's first bytes: at least the header and the nonce) and unwraps the file
   * key. `undefined` when `prefix` is too short to hold them: read more and try again.
   */
  static open(prefix: Buffer, fileSize: number, keys: AgeWith): AgeRanges | undefined {
    let header: Header;
    try {
      header = parseHeader(prefix);
    } catch (err) {
      if (prefix.length < fileSize && err instanceof AgeError && /ends early/.test(err.message)) return undefined;
      throw err;
    }
    if (prefix.length < header.payloadStart + 16) return prefix.length < fileSize ? undefined : AgeRanges.#short();
    const fileKey = fileKeyOf(header, keys);
    const nonce = prefix.subarray(header.payloadStart, header.payloadStart + 16);
    return new AgeRanges(header.payloadStart + 16, hkdf(fileKey, nonce, "payload"), fileSize);
  }

  static #short(): never {
    throw new AgeError("age: the payload is cut short (no nonce)");
  }

  /** The plaintext size the file holds. */
  get plaintextSize(): number {
    const body = this.fileSize - this.chunksStart;
    const full = Math.floor(body / (CHUNK + TAG));
    const rest = body - full * (CHUNK + TAG);
    return full * CHUNK + Math.max(0, rest - TAG);
  }

  /** The ciphertext bytes `[start, end)` to read for plaintext `[from, to)`. */
  range(from: number, to: number): { start: number; end: number } {
    const first = Math.floor(from / CHUNK);
    const last = Math.max(first, Math.ceil(to / CHUNK) - 1);
    return { start: this.chunksStart + first * (CHUNK + TAG), end: Math.min(this.fileSize, this.chunksStart + (last + 1) * (CHUNK + TAG)) };
  }

  /** Plaintext `[from, to)` from `cipher`, the bytes {@link range} named for it. */
  read(cipher: Buffer, from: number, to: number): Buffer {
    const { start, end } = this.range(from, to);
    if (cipher.length !== end - start) throw new AgeError(`age: ${cipher.length} bytes given for a range of ${end - start}`);
    const lastChunk = Math.max(0, Math.ceil((this.fileSize - this.chunksStart) / (CHUNK + TAG)) - 1);
    const first = Math.floor(from / CHUNK);
    const parts: Buffer[] = [];
    for (let at = 0, i = first; at < cipher.length; at += CHUNK + TAG, i++) {
      const plain = open(this.payloadKey, chunkNonce(i, i === lastChunk), cipher.subarray(at, at + CHUNK + TAG));
      if (!plain) throw new AgeError(`age: payload chunk ${i} does not authenticate (damaged, moved, or from another file)`);
      parts.push(plain);
    }
    const all = Buffer.concat(parts);
    const skip = from - first * CHUNK;
    if (skip + (to - from) > all.length) throw new AgeError(`age: bytes ${from} to ${to} are past the end of the payload`);
    return all.subarray(skip, skip + (to - from));
  }
}
