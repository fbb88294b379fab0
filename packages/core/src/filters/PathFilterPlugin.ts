import type { Engine } from "../Engine.js";
import { ConfigError } from "../errors.js";
import type { BackupPlugin } from "../Engine.js";
import { RootedPathFilter } from "./RootedPathFilter.js";

const PLUGIN_NAME = "PathFilterPlugin";

/** Options of {@link PathFilterPlugin}. */
export interface PathFilterPluginOptions {
  /** Text of `/etc/passwd` for `~` expansion (for tests). Default: read `/etc/passwd` at `initialize`. */
  readonly passwd?: string;
}

/**
 * Core's built-in filter: taps `intake` and answers `"exclude"` for every path `engine.parameters.pathFilters`
 * excludes, and `undefined` (let later taps or the default decide) otherwise. The rules are compiled once, in the
 * `initialize` hook (or on the first intake call if that comes first), against `engine.parameters.backupRoots`: a
 * default exclusion that matches a root itself does not apply under that root, and a root that a rule of the
 * user's own excludes is a warning in the log (see {@link RootedPathFilter}).
 */
export class PathFilterPlugin implements BackupPlugin {
  readonly name = PLUGIN_NAME;
  readonly #options: PathFilterPluginOptions;
  readonly #filters = new WeakMap<Engine, RootedPathFilter>();

  constructor(options: unknown = {}) {
    this.#options = parseOptions(options);
  }

  apply(engine: Engine): void {
    engine.hooks.initialize.tapPromise(PLUGIN_NAME, async () => {
      this.#filterFor(engine);
    });
    // Synchronous: a scan then asks the intake hook without a promise per path (see syncBail).
    engine.hooks.intake.tap(PLUGIN_NAME, (request) => (this.#filterFor(engine).isExcluded(request.path) ? "exclude" : undefined));
    // A scan then does not walk a directory whose whole subtree the rules exclude (.git, .cache, /var...).
    engine.hooks.excludesSubtree.tap(PLUGIN_NAME, (path) => (this.#filterFor(engine).excludesSubtree(path) ? true : undefined));
  }

  #filterFor(engine: Engine): RootedPathFilter {
    let filter = this.#filters.get(engine);
    if (!filter) {
      const options = this.#options.passwd === undefined ? {} : { passwd: this.#options.passwd };
      filter = new RootedPathFilter(engine.parameters.pathFilters, engine.parameters.backupRoots, options);
      this.#filters.set(engine, filter);
      const log = engine.getLogger("filters");
      for (const finding of filter.findings) {
        if (finding.kind === "excluded") log.warn(finding.message);
        else log.info(finding.message);
      }
    }
    return filter;
  }
}

function parseOptions(options: unknown): PathFilterPluginOptions {
  if (options === undefined) return {};
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new ConfigError(`${PLUGIN_NAME} options`, "expected an object");
  }
  for (const key of Object.keys(options)) {
    if (key !== "passwd") throw new ConfigError(`${PLUGIN_NAME} options.${key}`, "unknown option (known: passwd)");
  }
  const { passwd } = options as { passwd?: unknown };
  if (passwd !== undefined && typeof passwd !== "string") {
    throw new ConfigError(`${PLUGIN_NAME} options.passwd`, "expected the text of an /etc/passwd file");
  }
  return passwd === undefined ? {} : { passwd };
}
