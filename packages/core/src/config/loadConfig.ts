import { readFile, stat } from "node:fs/promises";
import { dirname, extname, isAbsolute, relative, resolve } from "node:path";
import type { Loader } from "cosmiconfig";
import type { Document, LineCounter } from "yaml";
import { BackupError, isErrno, messageOf } from "../errors.js";
import { configProblem, ConfigValidationError } from "./ConfigValidationError.js";
import { defaultParameters, type Parameters } from "./Parameters.js";
import { parseConfigObject, type ConfigPath } from "./parseConfigObject.js";
import { parseXmlParameters } from "./parseXmlParameters.js";
import type { PluginEntry } from "./resolvePluginSpecs.js";

/** DQD.RealTimeBackup's configuration file, used when no rtb config is found. */
export const DEFAULT_XML_CONFIG_PATH = "/etc/DQD.RealTimeBackup.xml";

/** Files searched for (in this order, in the starting directory only) when no file is given. */
export const CONFIG_SEARCH_PLACES: readonly string[] = [
  "rtb.config.js",
  "rtb.config.mjs",
  "rtb.config.cjs",
  "rtb.config.ts",
  "rtb.config.json",
  "rtb.config.yaml",
  "rtb.config.yml",
  ".rtbrc",
  ".rtbrc.json",
  ".rtbrc.yaml",
  ".rtbrc.yml",
  ".rtbrc.js",
  ".rtbrc.mjs",
  ".rtbrc.cjs",
];

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** A config file to load (`.xml` → the XML loader; anything else through cosmiconfig). Relative to `cwd`. */
  readonly file?: string | undefined;
  /** Where to resolve `file` and to search from. Default: `process.cwd()`. */
  readonly cwd?: string | undefined;
  /** The XML file used when the search finds nothing. Default {@link DEFAULT_XML_CONFIG_PATH}. */
  readonly systemXmlFile?: string | undefined;
}

/** A loaded configuration. */
export interface LoadedConfig {
  /** Every setting, validated, defaults filled in. */
  readonly parameters: Parameters;
  /** Plugin specs and instances from a JS/JSON/YAML config (empty for XML and defaults). */
  readonly plugins: PluginEntry[];
  /** Whether the CLI adds the default preset's plugins (always true for XML and defaults). */
  readonly preset: boolean;
  /** The absolute path of the file loaded; `undefined` for built-in defaults. */
  readonly filepath: string | undefined;
  readonly format: "xml" | "js" | "defaults";
  /** Notes about things that loaded but were ignored, as `file:line: message`. */
  readonly warnings: string[];
}

/**
 * Loads the configuration. With `file`: that file (`.xml` with {@link parseXmlParameters}, others — JSON, YAML,
 * JS/MJS/CJS, TS when `typescript` is installed — through cosmiconfig and {@link parseConfigObject}); a missing
 * file is an error (`CONFIG_NOT_FOUND`). Without: the first of {@link CONFIG_SEARCH_PLACES} in `cwd`, else
 * `systemXmlFile` if it exists, else built-in defaults (storage local). Invalid content throws a
 * {@link ConfigValidationError} listing every problem; files are named relative to `cwd` when inside it.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const cwd = resolve(options.cwd ?? process.cwd());
  if (options.file !== undefined) {
    const filepath = resolve(cwd, options.file);
    await mustExist(filepath, options.file);
    if (extname(filepath).toLowerCase() === ".xml") return loadXml(filepath, cwd);
    const loaded = await loadJs(filepath, cwd, "load");
    if (!loaded) throw new BackupError("CONFIG_NOT_FOUND", `${options.file}: no such configuration file`);
    return loaded;
  }
  // cosmiconfig and yaml are loaded only when one of the search places exists (most runs use XML or the defaults).
  const candidates = await Promise.all(CONFIG_SEARCH_PLACES.map((place) => exists(resolve(cwd, place))));
  const found = candidates.some(Boolean) ? await loadJs(cwd, cwd, "search") : undefined;
  if (found) return found;
  const systemXml = resolve(cwd, options.systemXmlFile ?? DEFAULT_XML_CONFIG_PATH);
  if (await exists(systemXml)) return loadXml(systemXml, cwd);
  return { parameters: defaultParameters(), plugins: [], preset: true, filepath: undefined, format: "defaults", warnings: [] };
}

function displayName(filepath: string, cwd: string): string {
  const rel = relative(cwd, filepath);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : filepath;
}

async function exists(filepath: string): Promise<boolean> {
  try {
    await stat(filepath);
    return true;
  } catch (err) {
    if (isErrno(err, "ENOENT", "ENOTDIR")) return false;
    throw err;
  }
}

async function mustExist(filepath: string, asGiven: string): Promise<void> {
  if (!(await exists(filepath))) throw new BackupError("CONFIG_NOT_FOUND", `${asGiven}: no such configuration file`);
}

async function loadXml(filepath: string, cwd: string): Promise<LoadedConfig> {
  const name = displayName(filepath, cwd);
  const { parameters, warnings } = parseXmlParameters(await readFile(filepath, "utf8"), name);
  return { parameters, plugins: [], preset: true, filepath, format: "xml", warnings };
}

async function loadJs(target: string, cwd: string, mode: "load" | "search"): Promise<LoadedConfig | undefined> {
  const [{ cosmiconfig }, yaml] = await Promise.all([import("cosmiconfig"), import("yaml")]);
  const documents = new Map<string, { doc: Document; lines: LineCounter }>();
  const loaders = dataLoaders(cwd, documents, yaml);
  const explorer = cosmiconfig("rtb", {
    searchPlaces: [...CONFIG_SEARCH_PLACES],
    searchStrategy: "none",
    cache: false,
    loaders: { ".json": loaders.json, ".yaml": loaders.yaml, ".yml": loaders.yaml, noExt: loaders.yaml },
  });
  let result: Awaited<ReturnType<typeof explorer.load>>;
  try {
    result = mode === "load" ? await explorer.load(target) : await explorer.search(target);
  } catch (err) {
    if (err instanceof ConfigValidationError) throw err;
    const file = mode === "load" ? displayName(target, cwd) : "configuration search";
    const problem = /No loader specified/.test(messageOf(err))
      ? "unsupported file type (use .xml, .json, .yaml, .yml, .js, .mjs, .cjs or .ts)"
      : `cannot be loaded: ${messageOf(err)}`;
    throw new ConfigValidationError([configProblem(file, undefined, "", problem)]);
  }
  if (!result) return undefined;
  const name = displayName(result.filepath, cwd);
  if (result.isEmpty && /\.[cm]?[jt]s$/.test(result.filepath)) {
    throw new ConfigValidationError([configProblem(name, undefined, "", "has no default export (export default { parameters, plugins })")]);
  }
  let config: unknown = result.isEmpty ? {} : result.config;
  if (typeof config === "function") config = await (config as () => unknown)();
  const located = documents.get(result.filepath);
  const lineOf = located ? (path: ConfigPath) => lineOfPath(located.doc, located.lines, path) : undefined;
  const parsed = parseConfigObject(config, { file: name, baseDir: dirname(result.filepath), lineOf });
  return { ...parsed, filepath: result.filepath, format: "js" };
}

// JSON and YAML are parsed here rather than by cosmiconfig's loaders for two reasons: their error messages quote
// the offending source line, which may hold a secret; and keeping the YAML document gives each key its line.
function dataLoaders(cwd: string, documents: Map<string, { doc: Document; lines: LineCounter }>, yaml: typeof import("yaml")): { json: Loader; yaml: Loader } {
  const { LineCounter, parseDocument } = yaml;
  const keep = (filepath: string, content: string) => {
    const lines = new LineCounter();
    const doc = parseDocument(content, { lineCounter: lines, uniqueKeys: false });
    if (doc.errors.length === 0) documents.set(filepath, { doc, lines });
    return { doc, lines };
  };
  return {
    json(filepath, content) {
      try {
        const value: unknown = JSON.parse(content);
        keep(filepath, content);
        return value;
      } catch (err) {
        const position = /at position (\d+)/.exec(messageOf(err));
        const reason = /^(Unexpected end of JSON input|Expected [^"]*? in JSON)/.exec(messageOf(err))?.[1]?.replace(/ in JSON$/, "");
        let line: number | undefined;
        let column: number | undefined;
        if (position) {
          const before = content.slice(0, Number(position[1]));
          line = before.split("\n").length;
          column = before.length - before.lastIndexOf("\n");
        } else {
          // No position in the message: let the YAML parser, restricted to JSON's scalars, find the place.
          const pos = parseDocument(content, { schema: "json" }).errors[0]?.linePos?.[0];
          line = pos?.line;
          column = pos?.col;
        }
        throw new ConfigValidationError([configProblem(displayName(filepath, cwd), line, "", `invalid JSON${reason ? ` (${reason})` : ""}`, column)]);
      }
    },
    yaml(filepath, content) {
      const { doc } = keep(filepath, content);
      const error = doc.errors[0];
      if (error) {
        const pos = error.linePos?.[0];
        const reason = error.code.toLowerCase().replace(/_/g, " ");
        throw new ConfigValidationError([configProblem(displayName(filepath, cwd), pos?.line, "", `invalid YAML (${reason})`, pos?.col)]);
      }
      const value: unknown = doc.toJS();
      return value === null ? undefined : value;
    },
  };
}

// The line of the key (or list item) at `path`; for a key that is missing, the line of the nearest parent present.
function lineOfPath(doc: Document, lines: LineCounter, path: ConfigPath): number | undefined {
  if (path.length === 0) return undefined;
  return lineOfNode(doc, lines, path) ?? lineOfPath(doc, lines, path.slice(0, -1));
}

function lineOfNode(doc: Document, lines: LineCounter, path: ConfigPath): number | undefined {
  const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
  const last = path[path.length - 1];
  const node = parent as { items?: unknown[] } | null | undefined;
  if (!node || !Array.isArray(node.items)) return undefined;
  let range: [number, number, number] | undefined;
  if (typeof last === "number") {
    range = (node.items[last] as { range?: [number, number, number] } | undefined)?.range;
  } else {
    const pair = node.items.find((item) => {
      const key = (item as { key?: { value?: unknown } }).key;
      return key?.value === last;
    }) as { key?: { range?: [number, number, number] } } | undefined;
    range = pair?.key?.range;
  }
  return range ? lines.linePos(range[0]).line : undefined;
}
