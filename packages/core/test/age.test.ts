// The age format (crypto/age.ts) against the age command (Debian's `age`, a reader and writer nobody here wrote):
// files we encrypt to a recipient or a passphrase are decrypted by `age -d`, and files `age` writes are decrypted
// here, at sizes around the 64 KiB chunk boundary. Every kind of damage is refused and named: a flipped header or
// payload byte, a truncated, extended or reordered payload, a wrong identity or passphrase.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgeError, AgeRanges, ageDecrypt, ageEncrypt, ageEncryptTo, generateAgeKeyPair, recipientOf } from "../src/crypto/age.js";
import { bech32Decode, bech32Encode } from "../src/crypto/bech32.js";

let dir = "";
test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), "rtb-age-"));
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

const isAgeError = (e: unknown) => e instanceof AgeError;
const SIZES = [0, 1, 65535, 65536, 65537, 3 * 65536, 200_001];
/** Runs age with a passphrase typed at its terminal prompt (age reads passphrases from a terminal only). */
const withPassphrase = (passphrase: string, ageArgs: string) =>
  execFileSync("script", ["-qec", `age ${ageArgs}`, "/dev/null"], { input: `${passphrase}\n${passphrase}\n`, stdio: ["pipe", "ignore", "pipe"] });

test("files encrypted to a recipient here are decrypted by age -d, and age's files here", () => {
  const keys = generateAgeKeyPair();
  assert.match(keys.recipient, /^age1[02-9ac-hj-np-z]{58}$/);
  assert.is(recipientOf(keys.identity), keys.recipient);
  writeFileSync(join(dir, "id.txt"), `${keys.identity}\n`);
  for (const size of SIZES) {
    const plain = randomBytes(size);
    writeFileSync(join(dir, "ours.age"), ageEncrypt(plain, { recipients: [keys.recipient, generateAgeKeyPair().recipient] }));
    const out = execFileSync("age", ["-d", "-i", join(dir, "id.txt"), join(dir, "ours.age")]);
    assert.ok(out.equals(plain), `age -d of our ${size}-byte file`);
    writeFileSync(join(dir, "plain"), plain);
    execFileSync("age", ["-r", keys.recipient, "-o", join(dir, "theirs.age"), join(dir, "plain")]);
    assert.ok(ageDecrypt(readFileSync(join(dir, "theirs.age")), { identities: [keys.identity] }).equals(plain), `our decrypt of age's ${size}-byte file`);
  }
  // A key age-keygen made works here too.
  execFileSync("age-keygen", ["-o", join(dir, "theirs.key")], { stdio: "ignore" });
  const identity = readFileSync(join(dir, "theirs.key"), "utf8")
    .split("\n")
    .find((l) => l.startsWith("AGE-SECRET-KEY-1"))!;
  const recipient = execFileSync("age-keygen", ["-y", join(dir, "theirs.key")])
    .toString()
    .trim();
  assert.is(recipientOf(identity), recipient);
});

test("a file sealed from parts (chunks that straddle them, empty parts, tiny ones) is the file of their concatenation", () => {
  const keys = generateAgeKeyPair();
  writeFileSync(join(dir, "id.txt"), `${keys.identity}\n`);
  const cases = [[], [0], [3, 100_000, 65_536, 0, 1, 200_000], [65_536, 65_536], [1, 1, 1, 65_533, 65_537]];
  for (const sizes of cases) {
    const parts = sizes.map((n) => randomBytes(n));
    const whole = Buffer.concat(parts);
    const out: Buffer[] = [];
    ageEncryptTo(parts, whole.length, { recipients: [keys.recipient] }, (bytes) => out.push(Buffer.from(bytes)));
    writeFileSync(join(dir, "parts.age"), Buffer.concat(out));
    assert.ok(execFileSync("age", ["-d", "-i", join(dir, "id.txt"), join(dir, "parts.age")]).equals(whole), `age -d of parts ${sizes.join("+")}`);
  }
});

test("passphrase files (scrypt) go both ways", () => {
  const plain = randomBytes(70_000);
  writeFileSync(join(dir, "ours.age"), ageEncrypt(plain, { passphrase: "correct horse", logN: 12 }));
  withPassphrase("correct horse", `-d -o ${join(dir, "ours.out")} ${join(dir, "ours.age")}`);
  assert.ok(readFileSync(join(dir, "ours.out")).equals(plain));
  writeFileSync(join(dir, "plain"), plain);
  withPassphrase("battery staple", `-p -o ${join(dir, "theirs.age")} ${join(dir, "plain")}`);
  assert.ok(ageDecrypt(readFileSync(join(dir, "theirs.age")), { passphrase: "battery staple" }).equals(plain));
  assert.throws(() => ageDecrypt(readFileSync(join(dir, "theirs.age")), { passphrase: "wrong" }), /wrong passphrase/);
  assert.throws(() => ageDecrypt(readFileSync(join(dir, "theirs.age")), { passphrase: "battery staple", maxLogN: 16 }), /work factor 2\^18/);
});

test("damage of every kind is refused and named", () => {
  const keys = generateAgeKeyPair();
  const file = ageEncrypt(randomBytes(3 * 65536 + 10), { recipients: [keys.recipient] });
  const open = (f: Buffer) => () => ageDecrypt(f, { identities: [keys.identity] });
  const headerEnd = file.indexOf("\n---") + 1;
  const flip = (at: number) => {
    const f = Buffer.from(file);
    f[at] = f[at]! ^ 1;
    return f;
  };
  assert.throws(open(flip(headerEnd - 5)), isAgeError, "a stanza byte");
  assert.throws(open(flip(headerEnd + 6)), /MAC|canonical/, "the MAC");
  assert.throws(open(flip(file.length - 10)), /payload chunk 3 does not authenticate/);
  assert.throws(open(flip(file.length - 100)), /payload chunk 2 does not authenticate/);
  assert.throws(open(file.subarray(0, file.length - 10)), /payload chunk 3/, "cut inside the last chunk");
  const bodyStart = file.indexOf("\n", headerEnd) + 1 + 16;
  assert.throws(open(file.subarray(0, bodyStart + 3 * (65536 + 16))), /payload chunk 2/, "cut at a chunk boundary");
  assert.throws(open(Buffer.concat([file, Buffer.alloc(1)])), isAgeError, "extended");
  const chunks = [0, 1].map((i) => file.subarray(bodyStart + i * 65552, bodyStart + (i + 1) * 65552));
  const swapped = Buffer.concat([file.subarray(0, bodyStart), chunks[1]!, chunks[0]!, file.subarray(bodyStart + 2 * 65552)]);
  assert.throws(open(swapped), /payload chunk 0/, "reordered chunks");
  assert.throws(() => ageDecrypt(file, { identities: [generateAgeKeyPair().identity] }), /none of the identities/);
  assert.throws(() => ageDecrypt(Buffer.from("not age at all\n"), { identities: [keys.identity] }), /does not start with age-encryption.org\/v1/);
  assert.throws(() => ageDecrypt(file, { passphrase: "x" }), /not encrypted to a passphrase/);
});

test("ranged reads: any plaintext range of a file, from the chunks that cover it; a moved or foreign chunk is refused", () => {
  const keys = generateAgeKeyPair();
  const plain = randomBytes(5 * 65536 + 123);
  const file = ageEncrypt(plain, { recipients: [keys.recipient] });
  assert.is(AgeRanges.open(file.subarray(0, 40), file.length, { identities: [keys.identity] }), undefined, "too short: read more");
  const r = AgeRanges.open(file.subarray(0, AgeRanges.HEADER_GUESS), file.length, { identities: [keys.identity] })!;
  assert.is(r.plaintextSize, plain.length);
  for (const [from, to] of [
    [0, 1],
    [0, plain.length],
    [65535, 65537],
    [65536, 131072],
    [5 * 65536, 5 * 65536 + 123],
    [300_000, 300_001],
  ] as const) {
    const { start, end } = r.range(from, to);
    assert.ok(r.read(file.subarray(start, end), from, to).equals(plain.subarray(from, to)), `${from}..${to}`);
  }
  // Chunk 1's bytes offered as chunk 2: refused (each chunk's nonce carries its index).
  const one = r.range(65536, 65537);
  assert.throws(() => r.read(file.subarray(one.start, one.end), 2 * 65536, 2 * 65536 + 1), /payload chunk 2 does not authenticate/);
  // A chunk of another file with the same key: refused (another nonce, another payload key).
  const other = ageEncrypt(plain, { recipients: [keys.recipient] });
  const { start, end } = r.range(0, 10);
  assert.throws(() => r.read(other.subarray(start + (other.length - file.length), end + (other.length - file.length)), 0, 10), /chunk 0/);
  assert.throws(() => AgeRanges.open(file.subarray(0, 1024), file.length, { identities: [generateAgeKeyPair().identity] }), /none of the identities/);
});

test("bech32 round-trips and refuses a bad checksum or mixed case", () => {
  const data = randomBytes(32);
  const text = bech32Encode("age", data);
  assert.ok(bech32Decode(text)!.data.equals(data));
  assert.ok(bech32Decode(text.toUpperCase())!.data.equals(data));
  const last = text.at(-1) === "q" ? "p" : "q";
  assert.is(bech32Decode(text.slice(0, -1) + last), undefined);
  assert.is(bech32Decode(text.slice(0, 5) + text.slice(5).toUpperCase()), undefined);
});

test.run();
