import { readFileSync } from "node:fs";
import { isErrno } from "../errors.js";
import type { PathFilterRule } from "../config/Parameters.js";
import { rulePattern, usesHomeDirectories } from "./pathFilterPatterns.js";
import { realUserHomes } from "./realUserHomes.js";

/** Options of {@link PathFilter}. */
export interface PathFilterOptions {
  /** Text of `/etc/passwd` used for `~` expansion (tests inject it). Default: the file, read only if a rule needs it. */
  readonly passwd?: string;
  /** The home directories `~` expands to, instead of reading passwd. */
  readonly homeDirectories?: readonly string[];
}

// A run of consecutive rules with the same action: whichever of them matches first, the verdict is the same, so
// they are tested together, most as one combined regular expression.
interface RuleGroup {
  readonly exclude: boolean;
  readonly patterns: readonly RegExp[];
}

// Back-references and named groups change meaning (or fail) when several expressions are joined into one.
const NOT_COMBINABLE = /\\[1-9]|\\k<|\(\?<(?![=!])/;

/**
 * Compiled include/exclude rules. The first rule that matches a path decides; a path no rule matches is included.
 * Rules are compiled once, in the constructor (see `rulePattern` for each type's meaning); a RegularExpression
 * that does not compile throws a `SyntaxError` there (the configuration loaders report it earlier, by line).
 */
export class PathFilter {
  /** The rules, in evaluation order. */
  readonly rules: readonly PathFilterRule[];
  readonly #groups: RuleGroup[] = [];
  readonly #homes: readonly string[];
  #ruleRegExps: RegExp[] | undefined;

  constructor(rules: readonly PathFilterRule[], options: PathFilterOptions = {}) {
    this.rules = [...rules];
    this.#homes = rules.some(usesHomeDirectories) ? homeDirectories(options) : [];
    let start = 0;
    while (start < rules.length) {
      const action = rules[start]!.action;
      let end = start;
      while (end < rules.length && rules[end]!.action === action) end++;
      this.#groups.push(this.#compileGroup(rules.slice(start, end), action === "Exclude"));
      start = end;
    }
  }

  /** The home directories `~` expanded to (empty when no rule uses `~`). */
  get homeDirectories(): readonly string[] {
    return this.#homes;
  }

  /** True when the first rule matching `path` (an absolute, normalised path) excludes it. */
  isExcluded(path: string): boolean {
    for (const group of this.#groups) {
      for (const pattern of group.patterns) if (pattern.test(path)) return group.exclude;
    }
    return false;
  }

  /**
   * True when these rules exclude every path under directory `path` (its subtree, itself included), so that a walk
   * need not enter it: the first rule that matches it is an Exclude that matches everything under it too (Prefix,
   * Component), and no Include before that rule can match a path under it (a Prefix Include outside it; a Component
   * or RegularExpression Include could, as could a RegularExpression Exclude fail to). False whenever unsure.
   */
  excludesSubtree(path: string): boolean {
    this.#ruleRegExps ??= this.rules.map((rule) => new RegExp(rulePattern(rule, this.#homes), "s"));
    const below = path === "/" ? "/" : `${path}/`;
    for (const [i, rule] of this.rules.entries()) {
      const matches = this.#ruleRegExps[i]!.test(path);
      if (rule.action === "Exclude") {
        if (matches) return rule.type !== "RegularExpression";
      } else if (matches || rule.type !== "Prefix" || rule.value.replace(/\/+$/, "").startsWith(below)) return false;
    }
    return false;
  }

  /** The rule that decides `path` (the first that matches), or `undefined` when none does (included). */
  match(path: string): PathFilterRule | undefined {
    this.#ruleRegExps ??= this.rules.map((rule) => new RegExp(rulePattern(rule, this.#homes), "s"));
    const index = this.#ruleRegExps.findIndex((pattern) => pattern.test(path));
    return index < 0 ? undefined : this.rules[index];
  }

  #compileGroup(rules: readonly PathFilterRule[], exclude: boolean): RuleGroup {
    const combinable: string[] = [];
    const patterns: RegExp[] = [];
    for (const rule of rules) {
      const source = rulePattern(rule, this.#homes);
      if (NOT_COMBINABLE.test(source)) patterns.push(new RegExp(source, "s"));
      else combinable.push(source);
    }
    if (combinable.length > 0) {
      const joined = combinable.length === 1 ? combinable[0]! : combinable.map((s) => `(?:${s})`).join("|");
      patterns.unshift(new RegExp(joined, "s"));
    }
    return { exclude, patterns };
  }
}

function homeDirectories(options: PathFilterOptions): readonly string[] {
  if (options.homeDirectories) return options.homeDirectories.map((h) => h.replace(/\/+$/, ""));
  if (options.passwd !== undefined) return realUserHomes(options.passwd);
  try {
    return realUserHomes(readFileSync("/etc/passwd", "utf8"));
  } catch (err) {
    // A system without /etc/passwd has no users whose homes `~` could name.
    if (isErrno(err, "ENOENT")) return [];
    throw err;
  }
}
