import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import {
  ConfigError,
  Engine,
  MOMENT_FORMS,
  openRepository,
  parseMoment,
  loadConfig,
  resolvePluginSpecs,
  stderrSink,
  type AnyRepository,
  type BackupPlugin,
  type LogSink,
  type Parameters,
} from "@rtbackup/core";
import { keySourceOf, type KeySource } from "@rtbackup/core/v2";
import { promptPassphrase } from "./passphrasePrompt.js";
import { presetPlugins, type PresetMode } from "./preset.js";
import { terminalText } from "./terminalText.js";

/** Options every command that touches a repository accepts. */
export interface CommonOptions {
  config?: string;
  store?: string;
  state?: string;
  prefix?: string;
  verbose?: boolean;
  quiet?: boolean;
  /** The key of an encrypted repository (overrides EncryptionKeyFile). */
  "key-file"?: string;
  /** Its passphrase, in a file (overrides EncryptionPassphraseFile). */
  "passphrase-file"?: string;
}

/** The configuration a command runs with. */
export interface LoadedConfig {
  parameters: Parameters;
  plugins: BackupPlugin[];
  source: string;
  warnings: string[];
}

/** Default state directory for a store that has none configured: a cache, rebuildable from the store. */
function defaultStateDirectory(parameters: Parameters): string {
  const id = createHash("sha256")
    .update(
      `${parameters.storage}\0${parameters.localStoragePath}\0${parameters.s3Bucket}\0${parameters.remoteStorageBucketID}\0${parameters.repositoryPrefix}`,
    )
    .digest("hex")
    .slice(0, 16);
  const base = process.env.XDG_STATE_HOME || join(homedir(), ".local", "state");
  return join(base, "rtb", id);
}

/**
 * Loads the configuration (explicit `--config`, else the cosmiconfig search, else /etc/DQD.RealTimeBackup.xml, else
 * the embedded defaults) and applies command-line overrides (`roots`: directories named on the command line).
 * Nothing is started here, so a bad config never half-starts anything.
 */
export async function loadCliConfig(options: CommonOptions, mode: PresetMode = "backup", roots: readonly string[] = []): Promise<LoadedConfig> {
  const loaded = await loadConfig(options.config ? { file: resolve(options.config) } : { cwd: process.cwd() });
  const parameters: Parameters = { ...loaded.parameters };
  // Roots named on the command line replace BackupRoots, before the preset looks at where the backup reads.
  if (roots.length) parameters.backupRoots = roots.map((r) => resolve(r));
  if (options.store !== undefined) {
    if (typeof options.store !== "string" || options.store === "") throw new ConfigError("--store", "expected a directory");
    parameters.storage = "local";
    parameters.localStoragePath = resolve(options.store);
  }
  if (options.prefix !== undefined) parameters.repositoryPrefix = String(options.prefix);
  if (options.verbose) parameters.verbosity = "Verbose";
  else if (options.quiet) parameters.verbosity = "Quiet";
  for (const [option, key] of [
    ["key-file", "encryptionKeyFile"],
    ["passphrase-file", "encryptionPassphraseFile"],
  ] as const) {
    const value = options[option];
    if (value === undefined) continue;
    if (typeof value !== "string" || value === "") throw new ConfigError(`--${option}`, "expected a file");
    parameters[key] = resolve(value);
  }
  if (options.state !== undefined) parameters.remoteFileStateCachePath = resolve(String(options.state));
  else if (loaded.format === "defaults" || options.store !== undefined) parameters.remoteFileStateCachePath = defaultStateDirectory(parameters);
  const fromDir = loaded.filepath ? dirname(loaded.filepath) : process.cwd();
  const explicit = await resolvePluginSpecs(loaded.plugins ?? [], fromDir, loaded.filepath ? { source: loaded.filepath } : {});
  const usePreset = (loaded as { preset?: boolean }).preset !== false;
  const plugins = [...explicit, ...(usePreset ? await presetPlugins(parameters, mode, explicit) : [])];
  return { parameters, plugins, source: loaded.filepath ?? "built-in defaults", warnings: loaded.warnings ?? [] };
}

/** Log lines on stderr, one line each: a path with a newline or an escape sequence in a message is printed escaped. */
const terminalSink: LogSink = { write: (level, name, message) => stderrSink.write(level, name, terminalText(message)) };

/** An engine for a loaded configuration, logging to stderr. */
export function createEngine(config: LoadedConfig, mode: PresetMode = "backup"): Engine {
  return new Engine({
    mode,
    parameters: config.parameters,
    log: { sink: terminalSink, errorLogFilePath: config.parameters.errorLogFilePath },
    plugins: config.plugins,
  });
}

/** Opens the repository for reading only (restore, list, cat): no state cache, no lock, nothing created. */
export async function openRepositoryReadOnly(config: LoadedConfig): Promise<{ engine: Engine; repository: AnyRepository }> {
  const engine = createEngine(config, "restore");
  const storage = await engine.openStore();
  try {
    const keys = await keysOf(config.parameters);
    const repository = await openRepository(storage, { prefix: config.parameters.repositoryPrefix, ...(keys ? { keys } : {}) });
    return { engine, repository };
  } catch (err) {
    await engine.stop().catch(() => undefined);
    throw err;
  }
}

/**
 * Where this command finds the repository's key: the key file or passphrase file (options or config), then
 * RTB_PASSPHRASE_FILE and RTB_PASSPHRASE, then a prompt on the terminal (only if the repository is encrypted).
 */
export function keysOf(parameters: Parameters): Promise<KeySource | undefined> {
  return keySourceOf({
    keyFile: parameters.encryptionKeyFile,
    passphraseFile: parameters.encryptionPassphraseFile,
    env: process.env,
    prompt: () => promptPassphrase("Repository passphrase: "),
  });
}

/** Parses `--at` (or `option`): a moment as {@link parseMoment} reads one (ISO, ms, "yesterday", "2h ago" …). */
export function parseAt(value: unknown, option = "--at"): number | undefined {
  if (value === undefined || value === true) return undefined;
  const text = String(value);
  const ms = parseMoment(text);
  if (ms === undefined) throw new ConfigError(option, `expected ${MOMENT_FORMS}, got "${text}"`);
  return ms;
}
