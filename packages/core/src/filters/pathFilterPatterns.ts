import type { PathFilterRule } from "../config/Parameters.js";

/** Escapes every character that has a meaning in a regular expression. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

/** True when a RegularExpression filter starts with `~` meaning "a home directory" (`~` alone or `~/...`). */
export function usesHomeDirectories(rule: PathFilterRule): boolean {
  return rule.type === "RegularExpression" && /^~(?:\/|$)/.test(rule.value);
}

/**
 * The regular expression source (flags `s`) that matches the paths a rule applies to:
 * - Prefix: the path equals the value or is under it (`^/var(?:/|$)`; trailing slashes of the value ignored);
 * - Component: some component of the path equals the value (`/\.git(?:/|$)`);
 * - RegularExpression: the value, unanchored; a leading `~` becomes `^(?:home1|home2)` with each home escaped,
 *   so `~/.config/Code/` matches `.config/Code/` in any real user's home directory (and never, with no users).
 */
export function rulePattern(rule: PathFilterRule, homes: readonly string[]): string {
  switch (rule.type) {
    case "Prefix":
      return `^${escapeRegExp(rule.value.replace(/\/+$/, ""))}(?:/|$)`;
    case "Component":
      return `/${escapeRegExp(rule.value)}(?:/|$)`;
    case "RegularExpression":
      if (usesHomeDirectories(rule)) {
        const alternatives = homes.length === 0 ? "(?!)" : `(?:${homes.map(escapeRegExp).join("|")})`;
        return `^${alternatives}${rule.value.slice(1)}`;
      }
      return rule.value;
  }
}

/**
 * What is wrong with a rule's value for its type, as the end of "expected ...", or `undefined` when it is fine:
 * a Prefix needs an absolute path, a Component a single name without `/`, a RegularExpression must compile as a
 * JavaScript regular expression.
 */
export function pathFilterValueProblem(type: PathFilterRule["type"], value: string): string | undefined {
  switch (type) {
    case "Prefix":
      return value.startsWith("/") ? undefined : "an absolute path for a Prefix filter";
    case "Component":
      return value !== "" && !value.includes("/") ? undefined : "a single path component (no /) for a Component filter";
    case "RegularExpression":
      try {
        new RegExp(rulePattern({ type, value, action: "Exclude" }, ["/home/user"]), "s");
        return undefined;
      } catch (err) {
        const reason = err instanceof Error ? err.message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, "") : "";
        return `a JavaScript regular expression${reason ? ` (${reason})` : ""}`;
      }
  }
}
