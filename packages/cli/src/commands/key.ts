import { writeFile } from "node:fs/promises";
import { BackupError, ConfigError, isV2, openRepository, type AnyRepository } from "@rtbackup/core";
import { RepositoryV2, addKeyObject, encodeKey, keySourceOf, listKeyObjects, recipientOf, removeKeyObject, writerKeyOf, type KeyWrap } from "@rtbackup/core/v2";
import { createEngine, loadCliConfig, openRepositoryReadOnly, type CommonOptions } from "../context.js";
import { promptPassphrase } from "../passphrasePrompt.js";
import { UsageError } from "../UsageError.js";

type KeyOptions = CommonOptions & Record<string, unknown>;

const LOSS_WARNING =
  "Keep a copy of the key away from this host (rtb key export): without a key or its passphrase the data cannot be read by anyone, us included.";

/**
 * `rtb init`: creates the repository the config names (format v2, or RepositoryFormat). With `--encryption` it is
 * encrypted; its first key is wrapped by the passphrase (file, RTB_PASSPHRASE_FILE, RTB_PASSPHRASE, or asked twice)
 * or, with `--key-file`, by the age identity file's recipient.
 */
export async function initCommand(options: KeyOptions): Promise<number> {
  const config = await loadCliConfig(options, "restore");
  const { parameters } = config;
  const engine = createEngine(config, "restore");
  const storage = await engine.openStore();
  try {
    const prefix = parameters.repositoryPrefix;
    if (await storage.head(`${prefix}config`)) throw new BackupError("REPOSITORY_INVALID", `there is a repository at ${storage.description} already`);
    if (!options.encryption) {
      const repo = await openRepository(storage, { prefix, create: { format: parameters.repositoryFormat, chunkSize: parameters.chunkSize } });
      process.stdout.write(`created repository ${repo.config.id} (format ${parameters.repositoryFormat}, not encrypted) at ${storage.description}\n`);
      return 0;
    }
    if (parameters.repositoryFormat !== 2) throw new ConfigError("RepositoryFormat", "encryption needs a format 2 repository");
    const wrap = await firstWrap(parameters.encryptionKeyFile, parameters.encryptionPassphraseFile);
    const repo = await RepositoryV2.create(storage, { prefix, encryption: wrap });
    const how = "recipient" in wrap ? `the identity file ${parameters.encryptionKeyFile}` : "the passphrase";
    process.stdout.write(`created encrypted repository ${repo.config.id} at ${storage.description}: key ${repo.key!.opened} opens with ${how}\n`);
    process.stderr.write(`${LOSS_WARNING}\nFor an agent that may add but never read: rtb key export --writer --out <file>, and EncryptionKeyFile.\n`);
    return 0;
  } finally {
    await engine.stop().catch(() => undefined);
  }
}

/** How the first key is wrapped: an identity file's recipient, or a passphrase (from a file or the environment, or asked twice). */
async function firstWrap(keyFile: string, passphraseFile: string): Promise<KeyWrap> {
  const source = await keySourceOf({ keyFile, passphraseFile, env: process.env });
  if (source?.keyFile) return { recipient: recipientOfIdentityFile(source.keyFile.text, source.keyFile.path) };
  const passphrase = source?.passphrase ? await source.passphrase() : await promptPassphrase("New repository passphrase: ", true);
  return { passphrase };
}

/** The recipient of an age identity file (or the `age1…` line of a recipients file). */
function recipientOfIdentityFile(text: string, path: string): string {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const identity = lines.find((l) => l.startsWith("AGE-SECRET-KEY-1"));
  if (identity) return recipientOf(identity);
  const recipient = lines.find((l) => /^age1[02-9ac-hj-np-z]{58}$/.test(l));
  if (recipient) return recipient;
  throw new ConfigError(path, "expected an age identity file (AGE-SECRET-KEY-1…, as age-keygen writes) or an age1… recipient");
}

/** `rtb key list|add|remove|passwd|export`. */
export async function keyCommand(sub: string, args: readonly string[], options: KeyOptions): Promise<number> {
  const known = ["list", "add", "remove", "passwd", "export"];
  if (!known.includes(sub)) throw new UsageError(`unknown key subcommand "${sub}" (expected ${known.join(", ")})`, "key");
  if (sub !== "remove" && args.length > 0) throw new UsageError(`key ${sub} takes no arguments`, "key");
  const config = await loadCliConfig(options, "restore");
  const { engine, repository } = await openRepositoryReadOnly(config);
  try {
    const repo = encrypted(repository);
    if (sub === "list") return await listKeys(repo, options);
    if (sub === "export") return await exportKey(repo, options);
    const master = repo.key!;
    if (master.key.kind !== "master")
      throw new BackupError("KEY_MISSING", `rtb key ${sub} needs the master key (a passphrase, an identity file or rtb key export's file), not a writer key`);
    if (sub === "add") {
      const id = await addKeyObject(repo.storage, repo.prefix, master.key, await newWrap(options));
      process.stdout.write(`added key ${id}\n`);
    } else if (sub === "remove") {
      const id = args[0];
      if (args.length !== 1 || !id) throw new UsageError("key remove takes one key id (rtb key list)", "key");
      if (id === master.opened)
        throw new BackupError("KEY_REJECTED", `key ${id} is the one this command opened the repository with: open it with another key to remove this one`);
      await removeKeyObject(repo.storage, repo.prefix, id);
      process.stdout.write(`removed key ${id}\n`);
    } else {
      if (!master.opened)
        throw new BackupError(
          "KEY_REJECTED",
          "rtb key passwd changes the passphrase of a key object: open the repository with a passphrase or an identity file",
        );
      const id = await addKeyObject(repo.storage, repo.prefix, master.key, await newWrap(options));
      await removeKeyObject(repo.storage, repo.prefix, master.opened);
      process.stdout.write(`added key ${id}, removed key ${master.opened}\n`);
    }
    return 0;
  } finally {
    await engine.stop().catch(() => undefined);
  }
}

function encrypted(repository: AnyRepository): RepositoryV2 {
  if (!isV2(repository) || !repository.key)
    throw new BackupError("KEY_REJECTED", `the repository at ${repository.storage.description} is not encrypted: it has no keys`);
  return repository;
}

async function listKeys(repo: RepositoryV2, options: KeyOptions): Promise<number> {
  for (const k of await listKeyObjects(repo.storage, repo.prefix)) {
    const current = k.id === repo.key!.opened;
    if (options.json) process.stdout.write(`${JSON.stringify({ id: k.id, opensWith: k.kind, size: k.size, current })}\n`);
    else process.stdout.write(`${k.id}  ${k.kind.padEnd(10)}  ${String(k.size).padStart(5)} B${current ? "  (opened this command)" : ""}\n`);
  }
  return 0;
}

/** The wrap of a new key: `--new-key-file` (an identity file), else a new passphrase (file, RTB_NEW_PASSPHRASE, or asked twice). */
async function newWrap(options: KeyOptions): Promise<KeyWrap> {
  const keyFile = options["new-key-file"];
  const passphraseFile = options["new-passphrase-file"];
  if (keyFile !== undefined || passphraseFile !== undefined) {
    const source = await keySourceOf({ keyFile: keyFile as string | undefined, passphraseFile: passphraseFile as string | undefined });
    if (source?.keyFile) return { recipient: recipientOfIdentityFile(source.keyFile.text, source.keyFile.path) };
    return { passphrase: await source!.passphrase!() };
  }
  const fromEnv = process.env.RTB_NEW_PASSPHRASE;
  if (fromEnv) return { passphrase: fromEnv };
  return { passphrase: await promptPassphrase("New passphrase: ", true) };
}

/** `rtb key export [--writer] [--out FILE]`: the master key (or the writer key) as text, for a paper copy or an agent. */
async function exportKey(repo: RepositoryV2, options: KeyOptions): Promise<number> {
  const held = repo.key!.key;
  if (!options.writer && held.kind !== "master")
    throw new BackupError("KEY_MISSING", "this process holds a writer key: only rtb key export --writer is possible");
  const key = options.writer ? writerKeyOf(held) : held;
  const text = encodeKey(key, { created: new Date().toISOString() });
  const out = options.out;
  if (typeof out === "string" && out !== "") {
    // A new file only, readable by its owner only: never over an existing file, never a moment world-readable.
    await writeFile(out, text, { mode: 0o600, flag: "wx" });
    process.stderr.write(`wrote the ${key.kind} key of repository ${key.repository} to ${out}\n`);
  } else process.stdout.write(text);
  if (key.kind === "master") process.stderr.write("This is the master key: with it and the bucket, anyone reads every backup. Keep it offline.\n");
  else process.stderr.write("A writer key adds to the repository and reads nothing: give it to the agent (EncryptionKeyFile).\n");
  return 0;
}
