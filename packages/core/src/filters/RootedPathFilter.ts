import { defaultPathFilters, type PathFilterRule } from "../config/Parameters.js";
import { isUnder } from "../mounts/mountPaths.js";
import { PathFilter, type PathFilterOptions } from "./PathFilter.js";
import { rulePattern } from "./pathFilterPatterns.js";

/** How the path filters treat one backup root that an exclusion rule matches. */
export interface RootFilterFinding {
  readonly root: string;
  readonly rule: PathFilterRule;
  /**
   * `lifted`: a default rule excludes the root itself; it does not apply under that root (an explicit root beats a
   * default exclusion). `excluded`: a rule of the user's own excludes the root; nothing under it is backed up.
   */
  readonly kind: "lifted" | "excluded";
  /** One line for a log or `rtb config check`. */
  readonly message: string;
}

/** True when `rule` is one of DQD's default path filters (a rule identical to a default counts as the default). */
export function isDefaultPathFilter(rule: PathFilterRule): boolean {
  return defaultPathFilters().some((d) => d.type === rule.type && d.value === rule.value && d.action === rule.action);
}

/** `Prefix "/tmp" (Exclude)`: a rule as the configuration names it. */
export function describeRule(rule: PathFilterRule): string {
  return `${rule.type} ${JSON.stringify(rule.value)} (${rule.action})`;
}

/**
 * The path filters with the backup roots taken into account; `rtb run` and `rtb backup` use this one rule. The
 * first matching rule decides, as in {@link PathFilter}, with one exception: a default exclusion that matches a
 * backup root itself (`Prefix /tmp` for the root `/tmp/build`, `Prefix /var` for `/var/www`) does not apply to paths
 * under that root, because naming a directory as a root is the more specific wish. Rules that apply inside the root
 * (`.git`, `.cache`, ...) still do. A rule of the user's own that excludes a root is kept, and reported by
 * {@link RootedPathFilter.findings} so that it is a warning at start and a `config check` finding.
 */
export class RootedPathFilter {
  readonly #base: PathFilter;
  /** Roots with lifted rules, deepest first, each with the filter that applies under it. */
  readonly #rooted: { root: string; filter: PathFilter }[] = [];
  readonly findings: readonly RootFilterFinding[];

  constructor(rules: readonly PathFilterRule[], roots: readonly string[], options: PathFilterOptions = {}) {
    this.#base = new PathFilter(rules, options);
    const homes = this.#base.homeDirectories;
    const findings: RootFilterFinding[] = [];
    const ordered = [...new Set(roots.map((r) => (r.length > 1 ? r.replace(/\/+$/, "") : r)))].sort((a, b) => b.length - a.length);
    for (const root of ordered) {
      const lifted = rules.filter((rule) => rule.action === "Exclude" && isDefaultPathFilter(rule) && new RegExp(rulePattern(rule, homes), "s").test(root));
      const filter = lifted.length
        ? new PathFilter(
            rules.filter((r) => !lifted.includes(r)),
            { homeDirectories: homes },
          )
        : this.#base;
      if (lifted.length) this.#rooted.push({ root, filter });
      for (const rule of lifted) {
        findings.push({
          root,
          rule,
          kind: "lifted",
          message: `BackupRoot ${root} is under the default exclusion ${describeRule(rule)}; backed up anyway, because it is named as a root`,
        });
      }
      const decider = filter.match(root);
      if (decider?.action === "Exclude") {
        findings.push({
          root,
          rule: decider,
          kind: "excluded",
          message: `BackupRoot ${root} is excluded by PathFilter ${describeRule(decider)}: nothing under it will be backed up; remove the rule or the root`,
        });
      }
    }
    this.findings = findings;
  }

  /** True when `path` (absolute, normalised) is not to be backed up. */
  isExcluded(path: string): boolean {
    for (const { root, filter } of this.#rooted) if (isUnder(path, root)) return filter.isExcluded(path);
    return this.#base.isExcluded(path);
  }

  /** True when nothing under directory `path` is to be backed up (see {@link PathFilter.excludesSubtree}). */
  excludesSubtree(path: string): boolean {
    for (const { root, filter } of this.#rooted) if (isUnder(path, root)) return filter.excludesSubtree(path);
    // A root with lifted rules under the directory is backed up: the directory's subtree is not wholly excluded.
    if (this.#rooted.some(({ root }) => isUnder(root, path))) return false;
    return this.#base.excludesSubtree(path);
  }
}
