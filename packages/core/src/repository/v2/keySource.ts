import { readFile, stat } from "node:fs/promises";
import { ConfigError } from "../../errors.js";
import { processSecrets } from "../../secrets/SecretRegistry.js";
import type { KeySource } from "./keyObjects.js";

/** Where {@link keySourceOf} may look for a key or passphrase (the first that is set wins, in this order). */
export interface KeyPlaces {
  /** A key file (EncryptionKeyFile, `--key-file`). */
  readonly keyFile?: string | undefined;
  /** A passphrase file (EncryptionPassphraseFile, `--passphrase-file`). */
  readonly passphraseFile?: string | undefined;
  /** The environment: RTB_PASSPHRASE_FILE, then RTB_PASSPHRASE. */
  readonly env?: NodeJS.ProcessEnv;
  /** Asks for the passphrase (a terminal prompt): used only for a repository that turns out to be encrypted. */
  readonly prompt?: () => Promise<string>;
}

/**
 * Reads a key or passphrase file. It must be a regular file that neither group nor others may read (like ssh's
 * keys): a key readable by every local user is no key. A passphrase is the file's first line.
 */
async function readSecretFile(path: string, what: string, element: string): Promise<string> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    throw new ConfigError(element, `${what} ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!info.isFile()) throw new ConfigError(element, `${what} ${path} is not a regular file`);
  if ((info.mode & 0o077) !== 0) {
    throw new ConfigError(element, `${what} ${path} may be read by other users (mode ${(info.mode & 0o777).toString(8)}): chmod 600 it`);
  }
  return readFile(path, "utf8");
}

/** The first line of a passphrase file's text; an empty passphrase is refused. */
function firstLine(text: string, where: string): string {
  const line = text.split(/\r?\n/)[0] ?? "";
  if (line === "") throw new ConfigError(where, "the passphrase is empty");
  return line;
}

/**
 * The key source a process has: a key file, a passphrase file, RTB_PASSPHRASE_FILE or RTB_PASSPHRASE (never a
 * command-line argument: one is visible to every user in ps). Undefined when none is set. A prompt is kept as a
 * last resort and counts for no key: it is asked only when the repository is encrypted.
 */
export async function keySourceOf(places: KeyPlaces): Promise<KeySource | undefined> {
  const env = places.env ?? {};
  if (places.keyFile) {
    const text = await readSecretFile(places.keyFile, "key file", "EncryptionKeyFile");
    return { keyFile: { path: places.keyFile, text } };
  }
  const file = places.passphraseFile || env.RTB_PASSPHRASE_FILE;
  if (file) {
    const element = places.passphraseFile ? "EncryptionPassphraseFile" : "RTB_PASSPHRASE_FILE";
    const passphrase = firstLine(await readSecretFile(file, "passphrase file", element), element);
    processSecrets.add(passphrase);
    return { passphrase: async () => passphrase };
  }
  const fromEnv = env.RTB_PASSPHRASE;
  if (fromEnv !== undefined && fromEnv !== "") {
    processSecrets.add(fromEnv);
    return { passphrase: async () => fromEnv };
  }
  return places.prompt ? { prompt: places.prompt } : undefined;
}
