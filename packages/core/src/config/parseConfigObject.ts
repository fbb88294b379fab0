import { completeParameters, type ParameterSettings } from "./completeParameters.js";
import { configProblem, ConfigValidationError, type ConfigProblem } from "./ConfigValidationError.js";
import { didYouMean } from "./didYouMean.js";
import type { Parameters, PathFilterRule } from "./Parameters.js";
import { parameterFields, type ParameterField } from "./parameterFields.js";
import { isPluginInstance, type PluginEntry } from "./resolvePluginSpecs.js";
import { BadValue, showValue } from "./valueKinds.js";
import { pathFilterValueProblem } from "../filters/pathFilterPatterns.js";

/** A key path inside a config object: `["parameters", "backupRoots", 1]`. */
export type ConfigPath = readonly (string | number)[];

/** Options of {@link parseConfigObject}. */
export interface ParseConfigObjectOptions {
  /** How the file is named in messages. */
  readonly file: string;
  /** Directory relative paths are resolved against (the config file's). */
  readonly baseDir: string;
  /** The line of a key, when the source format can tell (YAML, JSON). */
  readonly lineOf?: ((path: ConfigPath) => number | undefined) | undefined;
}

/** The validated content of a JS/JSON/YAML config. */
export interface ConfigObjectResult {
  readonly parameters: Parameters;
  /** Plugin specs and instances, in order (import them with `resolvePluginSpecs`). */
  readonly plugins: PluginEntry[];
  /** Whether the CLI adds the default preset's plugins (default true). */
  readonly preset: boolean;
  readonly warnings: string[];
}

const fieldsByKey = new Map(parameterFields.map((f) => [f.key as string, f]));
const parameterKeys = [...parameterFields.map((f) => f.key as string), "pathFilters"];
const TOP_KEYS = ["parameters", "plugins", "preset"];
const RULE_KEYS = ["type", "value", "action"];
const SPEC_KEYS = ["module", "export", "options"];

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

function describe(path: ConfigPath): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

/**
 * Validates the object a JS/JSON/YAML config exports: `{ parameters?, plugins?, preset? }`, where `parameters`
 * holds Parameters fields in camelCase (durations as milliseconds or xs:duration strings; relative paths resolved
 * against `baseDir`; `pathFilters` as a list of `{ type, value, action }` rules evaluated before the defaults, or
 * `{ rules, replaceDefaults }`), and `plugins` lists `{ module, export?, options? }` specs or plugin instances.
 * The same cross-field rules as the XML loader apply. All problems are thrown at once as a
 * {@link ConfigValidationError} (`rtb.config.yaml:4: parameters.uploadThreadCount: expected ..., got -2`).
 */
export function parseConfigObject(config: unknown, options: ParseConfigObjectOptions): ConfigObjectResult {
  const problems: ConfigProblem[] = [];
  const problem = (path: ConfigPath, message: string) => problems.push(configProblem(options.file, options.lineOf?.(path), describe(path), message));
  const unknownKey = (path: ConfigPath, key: string, known: readonly string[], extra = "") => {
    const suggestion = didYouMean(key, known);
    problem([...path, key], `unknown key${suggestion ? ` (did you mean ${suggestion}?)` : extra}`);
  };

  if (!isObject(config)) {
    problems.push(configProblem(options.file, undefined, "", `expected an object with parameters, plugins or preset, got ${showValue(config, false)}`));
    throw new ConfigValidationError(problems);
  }
  checkTopKeys(config, unknownKey);
  const { values, failed, pathFilters } = readParameters(config["parameters"], options.baseDir, problem, unknownKey);
  const plugins = readPlugins(config["plugins"], problem, unknownKey);
  const preset = config["preset"] ?? true;
  if (typeof preset !== "boolean") problem(["preset"], `expected true or false, got ${showValue(preset, false)}`);

  const parameters = completeParameters(
    { values: values as Partial<Parameters>, pathFilters },
    {
      // A value already reported as bad fell back to its default; a rule about the default would only add noise.
      report: (key, message) => failed.has(key) || problem(["parameters", key], message),
      name: (key) => `parameters.${key}`,
    },
  );
  if (problems.length > 0) {
    problems.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
    throw new ConfigValidationError(problems);
  }
  return { parameters, plugins, preset: preset === true, warnings: [] };
}

type Problem = (path: ConfigPath, message: string) => void;
type UnknownKey = (path: ConfigPath, key: string, known: readonly string[], extra?: string) => void;

/** What the `parameters` object gave: the values read, the fields that had a problem, and the path filters. */
interface ParameterValues {
  values: Partial<Record<keyof Parameters, unknown>>;
  failed: Set<keyof Parameters>;
  pathFilters: ParameterSettings["pathFilters"];
}

/** Reports every top-level key other than parameters, plugins and preset (pointing a setting to `parameters`). */
function checkTopKeys(config: Record<string, unknown>, unknownKey: UnknownKey): void {
  for (const key of Object.keys(config)) {
    if (TOP_KEYS.includes(key)) continue;
    const isParameter = didYouMean(key, parameterKeys);
    unknownKey([], key, TOP_KEYS, isParameter ? ` (settings go under "parameters", e.g. parameters.${isParameter})` : "");
  }
}

/** Reads the `parameters` object: each known field's value, the path filters, and a problem for each unknown key. */
function readParameters(raw: unknown, baseDir: string, problem: Problem, unknownKey: UnknownKey): ParameterValues {
  const result: ParameterValues = { values: {}, failed: new Set(), pathFilters: undefined };
  if (raw !== undefined && !isObject(raw)) {
    problem(["parameters"], `expected an object, got ${showValue(raw, false)}`);
    return result;
  }
  if (!raw) return result;
  for (const [key, value] of Object.entries(raw)) {
    const path = ["parameters", key];
    if (key === "pathFilters") {
      result.pathFilters = readPathFilters(value, path, problem, unknownKey);
      continue;
    }
    const field = fieldsByKey.get(key);
    if (!field) {
      unknownKey(["parameters"], key, parameterKeys);
      continue;
    }
    if (value === undefined) continue;
    let reported = 0;
    const converted = readParameterValue(field, value, path, baseDir, (at, message) => {
      reported++;
      problem(at, message);
    });
    if (converted !== undefined) result.values[field.key] = converted;
    if (reported > 0) result.failed.add(field.key);
  }
  return result;
}

/** The value of one field (a list of them for a list field); undefined, with the problems reported, when it is bad. */
function readParameterValue(field: ParameterField, value: unknown, path: ConfigPath, baseDir: string, problem: Problem): unknown {
  const convert = (item: unknown, itemPath: ConfigPath): unknown => {
    try {
      return field.kind.fromValue(item, { baseDir });
    } catch (err) {
      if (!(err instanceof BadValue)) throw err;
      problem(itemPath, `expected ${err.expected}, got ${showValue(item, field.secret)}`);
      return undefined;
    }
  };
  if (!field.list) return convert(value, path);
  if (!Array.isArray(value)) {
    problem(path, `expected a list, got ${showValue(value, field.secret)}`);
    return undefined;
  }
  const items = value.map((item, i) => convert(item, [...path, i]));
  return items.every((item) => item !== undefined) ? items : undefined;
}

function readPathFilters(value: unknown, path: ConfigPath, problem: Problem, unknownKey: UnknownKey): ParameterSettings["pathFilters"] {
  let rawRules: unknown = value;
  let replaceDefaults = false;
  let rulesPath = path;
  if (isObject(value)) {
    for (const key of Object.keys(value)) if (key !== "rules" && key !== "replaceDefaults") unknownKey(path, key, ["rules", "replaceDefaults"]);
    const replace = value["replaceDefaults"] ?? false;
    if (typeof replace === "boolean") replaceDefaults = replace;
    else problem([...path, "replaceDefaults"], `expected true or false, got ${showValue(replace, false)}`);
    rawRules = value["rules"] ?? [];
    rulesPath = [...path, "rules"];
  }
  if (!Array.isArray(rawRules)) {
    problem(rulesPath, `expected a list of { type, value, action } rules (or { rules, replaceDefaults }), got ${showValue(rawRules, false)}`);
    return undefined;
  }
  const rules: PathFilterRule[] = [];
  for (const [i, raw] of rawRules.entries()) {
    const at = [...rulesPath, i];
    if (!isObject(raw)) {
      problem(at, `expected { type, value, action }, got ${showValue(raw, false)}`);
      continue;
    }
    for (const key of Object.keys(raw)) if (!RULE_KEYS.includes(key)) unknownKey(at, key, RULE_KEYS);
    const { type, value: ruleValue, action } = raw;
    let ok = true;
    if (type !== "Prefix" && type !== "Component" && type !== "RegularExpression") {
      problem([...at, "type"], `expected Prefix, Component or RegularExpression, got ${showValue(type, false)}`);
      ok = false;
    }
    if (action !== "Include" && action !== "Exclude") {
      problem([...at, "action"], `expected Include or Exclude, got ${showValue(action, false)}`);
      ok = false;
    }
    if (typeof ruleValue !== "string") {
      problem([...at, "value"], `expected a string, got ${showValue(ruleValue, false)}`);
      ok = false;
    }
    if (!ok) continue;
    const rule = { type, value: ruleValue, action } as PathFilterRule;
    const bad = pathFilterValueProblem(rule.type, rule.value);
    if (bad) problem([...at, "value"], `expected ${bad}, got ${showValue(rule.value, false)}`);
    else rules.push(rule);
  }
  return { rules, replaceDefaults };
}

function readPlugins(value: unknown, problem: Problem, unknownKey: UnknownKey): PluginEntry[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    problem(["plugins"], `expected a list of plugins, got ${showValue(value, false)}`);
    return [];
  }
  const plugins: PluginEntry[] = [];
  for (const [i, entry] of value.entries()) {
    const at = ["plugins", i];
    if (isPluginInstance(entry)) {
      plugins.push(entry);
      continue;
    }
    if (!isObject(entry)) {
      problem(at, `expected { module, export?, options? } or a plugin instance, got ${showValue(entry, false)}`);
      continue;
    }
    let ok = true;
    for (const key of Object.keys(entry)) {
      if (!SPEC_KEYS.includes(key)) {
        unknownKey(at, key, SPEC_KEYS);
        ok = false;
      }
    }
    const { module, export: exportName, options } = entry;
    if (typeof module !== "string" || module === "") {
      problem([...at, "module"], `expected a module name or path, got ${showValue(module, false)}`);
      ok = false;
    }
    if (exportName !== undefined && (typeof exportName !== "string" || exportName === "")) {
      problem([...at, "export"], `expected the name of an export, got ${showValue(exportName, false)}`);
      ok = false;
    }
    if (!ok) continue;
    plugins.push({
      module: module as string,
      ...(exportName === undefined ? {} : { export: exportName as string }),
      ...(options === undefined ? {} : { options }),
    });
  }
  return plugins;
}
