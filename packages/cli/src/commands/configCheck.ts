import { resolve } from "node:path";
import { RootedPathFilter, formatParametersText, formatParametersXml, loadConfig, resolvePluginSpecs } from "@rtbackup/core";
import { dirname } from "node:path";

/** Options of `rtb config check`. */
export interface ConfigCheckOptions {
  config?: string;
  print?: boolean;
  xml?: boolean;
}

/**
 * `rtb config check [file]`: loads and validates a configuration (and imports the plugins it names) without
 * starting anything. Exit 0 when valid; a ConfigError (exit 2) lists every problem with element and line. A
 * BackupRoot that a PathFilter of the user's own excludes is a warning (nothing under it would be backed up).
 */
export async function configCheckCommand(file: string | undefined, options: ConfigCheckOptions): Promise<number> {
  const target = file ?? options.config;
  const loaded = await loadConfig(target ? { file: resolve(target) } : { cwd: process.cwd() });
  await resolvePluginSpecs(loaded.plugins, loaded.filepath ? dirname(loaded.filepath) : process.cwd(), loaded.filepath ? { source: loaded.filepath } : {});
  for (const w of loaded.warnings) process.stderr.write(`warning: ${w}\n`);
  const filter = new RootedPathFilter(loaded.parameters.pathFilters, loaded.parameters.backupRoots);
  for (const f of filter.findings) if (f.kind === "excluded") process.stderr.write(`warning: ${f.message}\n`);
  const where = loaded.filepath ?? "built-in defaults";
  process.stderr.write(`${where}: OK (${loaded.format}, storage ${loaded.parameters.storage})\n`);
  if (options.xml) process.stdout.write(formatParametersXml(loaded.parameters));
  else if (options.print) process.stdout.write(formatParametersText(loaded.parameters));
  return 0;
}
