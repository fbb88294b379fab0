import { createRequire } from "node:module";
import { isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ConfigError, messageOf } from "../errors.js";
import type { BackupPlugin } from "../Engine.js";
import { configProblem, ConfigValidationError, type ConfigProblem } from "./ConfigValidationError.js";

/**
 * A plugin named in a configuration file: the module to import (a path relative to the config file, an absolute
 * path, or a package name), the export to instantiate (default: the default export) and the options passed to
 * its constructor (`new Export(options)`).
 */
export interface PluginSpec {
  readonly module: string;
  readonly export?: string;
  readonly options?: unknown;
}

/** An entry of a config's `plugins` list: a spec to import, or (JS/TS configs) a plugin instance. */
export type PluginEntry = PluginSpec | BackupPlugin;

/** True when `entry` is already a plugin instance (has a string `name` and an `apply` method). */
export function isPluginInstance(entry: unknown): entry is BackupPlugin {
  return typeof entry === "object" && entry !== null && typeof (entry as BackupPlugin).apply === "function" && typeof (entry as BackupPlugin).name === "string";
}

/** Options of {@link resolvePluginSpecs}. */
export interface ResolvePluginSpecsOptions {
  /** How the config file is named in errors (default: no file prefix, just `plugins[2].module`). */
  readonly source?: string;
}

/**
 * Turns a config's `plugins` list into plugin instances, in order. Instances are kept; each spec's module is
 * imported (a relative or absolute path from `fromDir`, else a package resolved from `fromDir` and then from this
 * package) and its export (`spec.export`, default the default export) constructed with `spec.options`. Every
 * failure is collected and thrown as one {@link ConfigValidationError} naming the entry: `plugins[2].module`
 * (cannot be imported), `plugins[2].export` (missing or not a class), `plugins[2].options` (the constructor
 * refused them; its own message follows) or `plugins[2]` (what was built is not a plugin).
 */
export async function resolvePluginSpecs(plugins: readonly PluginEntry[], fromDir: string, options: ResolvePluginSpecsOptions = {}): Promise<BackupPlugin[]> {
  const file = options.source ?? "";
  const problems: ConfigProblem[] = [];
  const resolved: BackupPlugin[] = [];
  for (const [index, entry] of plugins.entries()) {
    const at = `plugins[${index}]`;
    const fail = (subject: string, message: string) => problems.push(configProblem(file, undefined, subject, message));
    if (isPluginInstance(entry)) {
      resolved.push(entry);
      continue;
    }
    if (typeof entry !== "object" || entry === null || typeof entry.module !== "string" || entry.module === "") {
      fail(`${at}.module`, "expected a module name or path");
      continue;
    }
    let namespace: Record<string, unknown>;
    try {
      namespace = (await importFrom(entry.module, fromDir)) as Record<string, unknown>;
    } catch (err) {
      fail(`${at}.module`, `cannot import "${entry.module}": ${firstLine(messageOf(err))}`);
      continue;
    }
    const exportName = entry.export ?? "default";
    const Export = namespace[exportName];
    if (Export === undefined) {
      const names = Object.keys(namespace).filter((k) => k !== "default");
      fail(
        entry.export === undefined ? at : `${at}.export`,
        `"${entry.module}" has no ${entry.export === undefined ? "default export" : `export "${exportName}"`}` +
          (names.length > 0 ? ` (it exports ${names.slice(0, 10).join(", ")}; set "export")` : ""),
      );
      continue;
    }
    if (typeof Export !== "function") {
      fail(entry.export === undefined ? at : `${at}.export`, `"${exportName}" of "${entry.module}" is not a class`);
      continue;
    }
    let instance: unknown;
    try {
      instance = new (Export as new (options: unknown) => unknown)(entry.options);
    } catch (err) {
      fail(`${at}.options`, err instanceof ConfigError ? err.message : `the constructor of "${exportName}" threw: ${messageOf(err)}`);
      continue;
    }
    if (!isPluginInstance(instance)) {
      fail(at, `"${exportName}" of "${entry.module}" did not build a plugin (it needs a name and an apply method)`);
      continue;
    }
    resolved.push(instance);
  }
  if (problems.length > 0) throw new ConfigValidationError(problems);
  return resolved;
}

async function importFrom(specifier: string, fromDir: string): Promise<unknown> {
  if (isAbsolute(specifier) || specifier.startsWith("./") || specifier.startsWith("../") || specifier === "." || specifier === "..") {
    return import(pathToFileURL(resolve(fromDir, specifier)).href);
  }
  let resolvedPath: string | undefined;
  try {
    resolvedPath = createRequire(join(fromDir, "noop.js")).resolve(specifier);
  } catch {
    // Packages whose "exports" only have an "import" condition cannot be found by require.resolve; let import try.
  }
  return import(resolvedPath === undefined ? specifier : pathToFileURL(resolvedPath).href);
}

function firstLine(text: string): string {
  return text.split("\n")[0] ?? "";
}
