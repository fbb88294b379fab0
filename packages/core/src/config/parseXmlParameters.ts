import { completeParameters, type ParameterSettings } from "./completeParameters.js";
import { configProblem, ConfigValidationError, type ConfigProblem } from "./ConfigValidationError.js";
import { didYouMean } from "./didYouMean.js";
import type { Parameters, PathFilterRule } from "./Parameters.js";
import { dqdOnlyElements, elementOf, isDqdOnlyElement, parameterFields, type ParameterField } from "./parameterFields.js";
import { BadValue, booleanKind, showValue } from "./valueKinds.js";
import { readXmlTree, XmlSyntaxError, type XmlElement } from "./xmlTree.js";
import { pathFilterValueProblem } from "../filters/pathFilterPatterns.js";

/** What {@link parseXmlParameters} returns. */
export interface XmlParametersResult {
  /** Every setting, defaults filled in. */
  readonly parameters: Parameters;
  /** Things that loaded but deserve a note (DQD-only elements), as `file:line: message`. */
  readonly warnings: string[];
}

const ROOT = "OperatingParameters";
const fieldsByElement = new Map(parameterFields.map((f) => [f.element, f]));
const knownElements = [...parameterFields.map((f) => f.element), "PathFilters", ...dqdOnlyElements];
const secretElements = parameterFields
  .filter((f) => f.secret)
  .map((f) => f.element)
  .concat("WebAccessPasswordHash");
const PATH_FILTER_TYPES = ["Prefix", "Component", "RegularExpression"] as const;
const PATH_FILTER_ACTIONS = ["Include", "Exclude"] as const;

// Namespace declarations and xsi:* (type, nil) are what .NET's XmlSerializer may put on any element.
const isXmlInfrastructure = (attribute: string) => attribute === "xmlns" || /^(?:xmlns|xsi):/.test(attribute);

/**
 * Reads a DQD.RealTimeBackup `OperatingParameters` XML document (every element DQD knows, plus ours) into
 * {@link Parameters}. Durations are xs:durations (`PT30S`) and become milliseconds; booleans are `true`, `false`,
 * `1` or `0`; lists are `<string>` children; `<PathFilters>` holds `<PathFilter Type Value Action />` rules, which
 * are evaluated before the 22 defaults (`ReplaceDefaults="true"` drops the defaults). DQD-only elements load with a
 * warning; anything else unknown is an error. Every problem in the file is collected and thrown at once as a
 * {@link ConfigValidationError} whose lines name `fileName`, the line, the element (and attribute), the value (never
 * a secret's) and what was expected.
 */
export function parseXmlParameters(text: string, fileName: string): XmlParametersResult {
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const problem = (line: number | undefined, subject: string, message: string) => problems.push(configProblem(fileName, line, subject, message));

  const root = readRoot(text, fileName);
  checkAttributes(root, [], problem);
  if (root.text !== "") problem(root.line, `<${ROOT}>`, "expected only elements, found text");
  const { values, lines, failed, pathFilters } = readElements(root, fileName, problem, warnings);

  const parameters = completeParameters(
    { values: values as Partial<Parameters>, pathFilters },
    {
      // A value already reported as bad fell back to its default; a rule about the default would only add noise.
      report: (key, message) => failed.has(key) || problem(lines.get(elementOf(key)), `<${elementOf(key)}>`, message),
      name: elementOf,
    },
  );
  if (problems.length > 0) {
    problems.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
    throw new ConfigValidationError(problems);
  }
  return { parameters, warnings };
}

type Report = (line: number | undefined, subject: string, message: string) => void;

/** What the children of the root gave: the values read, each element's line, the fields that had a problem, the path filters. */
interface ElementValues {
  values: Partial<Record<keyof Parameters, unknown>>;
  lines: Map<string, number | undefined>;
  failed: Set<keyof Parameters>;
  pathFilters: ParameterSettings["pathFilters"];
}

/** Parses the document and returns its `<OperatingParameters>` root; malformed XML or another root is thrown at once. */
function readRoot(text: string, fileName: string): XmlElement {
  let roots: XmlElement[];
  try {
    roots = readXmlTree(text);
  } catch (err) {
    if (!(err instanceof XmlSyntaxError)) throw err;
    const lineText = err.line === undefined ? "" : (text.split("\n")[err.line - 1] ?? "");
    const hidden = secretElements.some((name) => lineText.includes(name));
    const detail = hidden ? "details not shown because the line holds a secret" : err.message;
    throw new ConfigValidationError([configProblem(fileName, err.line, "", `malformed XML: ${detail}`, err.column)]);
  }
  const root = roots[0];
  if (roots.length !== 1 || !root) {
    throw new ConfigValidationError([configProblem(fileName, roots[1]?.line, "", `expected one <${ROOT}> root element, found ${roots.length} root elements`)]);
  }
  if (root.name !== ROOT) throw new ConfigValidationError([configProblem(fileName, root.line, `<${root.name}>`, `expected the root element <${ROOT}>`)]);
  return root;
}

/** Reads every child of the root: settings, path filters, DQD-only elements (a warning each); duplicates and unknown elements are problems. */
function readElements(root: XmlElement, fileName: string, problem: Report, warnings: string[]): ElementValues {
  const result: ElementValues = { values: {}, lines: new Map(), failed: new Set(), pathFilters: undefined };
  for (const element of root.children) {
    const seen = result.lines.get(element.name);
    if (result.lines.has(element.name)) {
      problem(element.line, `<${element.name}>`, `appears more than once${seen === undefined ? "" : ` (first on line ${seen})`}`);
      continue;
    }
    result.lines.set(element.name, element.line);
    const field = fieldsByElement.get(element.name);
    if (field) {
      let reported = 0;
      const value = readField(field, element, (line, subject, message) => {
        reported++;
        problem(line, subject, message);
      });
      if (value !== undefined) result.values[field.key] = value;
      if (reported > 0) result.failed.add(field.key);
    } else if (element.name === "PathFilters") {
      result.pathFilters = readPathFilters(element, problem);
    } else if (isDqdOnlyElement(element.name)) {
      warnings.push(`${fileName}:${element.line ?? "?"}: <${element.name}> is a DQD.RealTimeBackup setting this program does not use; ignored`);
    } else {
      const suggestion = didYouMean(element.name, knownElements);
      problem(element.line, `<${element.name}>`, `unknown element${suggestion ? ` (did you mean <${suggestion}>?)` : ""}`);
    }
  }
  return result;
}

function checkAttributes(element: XmlElement, allowed: readonly string[], problem: Report): void {
  for (const attribute of Object.keys(element.attributes)) {
    if (allowed.includes(attribute) || isXmlInfrastructure(attribute)) continue;
    const suggestion = didYouMean(attribute, allowed);
    problem(
      element.attributeLines.get(attribute) ?? element.line,
      `<${element.name} ${attribute}>`,
      `unknown attribute${suggestion ? ` (did you mean ${suggestion}?)` : ""}`,
    );
  }
}

function isNil(element: XmlElement): boolean {
  return element.attributes["xsi:nil"]?.trim() === "true";
}

function readField(field: ParameterField, element: XmlElement, problem: Report): unknown {
  const subject = `<${element.name}>`;
  checkAttributes(element, [], problem);
  if (isNil(element)) return undefined;
  const convert = (text: string, line: number | undefined, where: string): unknown => {
    try {
      return field.kind.fromText(text);
    } catch (err) {
      if (!(err instanceof BadValue)) throw err;
      problem(line, where, `expected ${err.expected}, got ${showValue(text, field.secret)}`);
      return undefined;
    }
  };
  if (!field.list) {
    const child = element.children[0];
    if (child) {
      problem(child.line, subject, `expected a value, found the element <${child.name}>`);
      return undefined;
    }
    return convert(element.text, element.line, subject);
  }
  if (element.text !== "") {
    problem(element.line, subject, "expected <string> elements, found text");
    return undefined;
  }
  const items: unknown[] = [];
  let ok = true;
  for (const child of element.children) {
    if (child.name !== "string") {
      problem(child.line, `<${element.name}><${child.name}>`, "unknown element (expected <string>)");
      ok = false;
      continue;
    }
    checkAttributes(child, [], problem);
    if (child.children[0]) {
      problem(child.children[0].line, `<${element.name}><string>`, `expected a value, found the element <${child.children[0].name}>`);
      ok = false;
      continue;
    }
    const value = convert(child.text, child.line, `<${element.name}><string>`);
    if (value === undefined) ok = false;
    else items.push(value);
  }
  return ok ? items : undefined;
}

function readPathFilters(element: XmlElement, problem: Report): ParameterSettings["pathFilters"] {
  checkAttributes(element, ["ReplaceDefaults"], problem);
  let replaceDefaults = false;
  const replace = element.attributes["ReplaceDefaults"];
  if (replace !== undefined) {
    try {
      replaceDefaults = booleanKind.fromText(replace);
    } catch {
      problem(
        element.attributeLines.get("ReplaceDefaults") ?? element.line,
        "<PathFilters ReplaceDefaults>",
        `expected true, false, 1 or 0, got ${showValue(replace, false)}`,
      );
    }
  }
  if (element.text !== "") problem(element.line, "<PathFilters>", "expected <PathFilter> elements, found text");
  const rules: PathFilterRule[] = [];
  for (const child of element.children) {
    if (child.name !== "PathFilter") {
      const suggestion = didYouMean(child.name, ["PathFilter"]);
      problem(child.line, `<PathFilters><${child.name}>`, `unknown element (expected <PathFilter>${suggestion ? "; did you mean it?" : ""})`);
      continue;
    }
    const rule = readPathFilter(child, problem);
    if (rule) rules.push(rule);
  }
  return { rules, replaceDefaults };
}

function readPathFilter(element: XmlElement, problem: Report): PathFilterRule | undefined {
  checkAttributes(element, ["Type", "Value", "Action"], problem);
  if (element.children[0] || element.text !== "") {
    problem(element.line, "<PathFilter>", "expected an empty element with Type, Value and Action attributes");
  }
  const lineOf = (attribute: string) => element.attributeLines.get(attribute) ?? element.line;
  const choice = <T extends string>(attribute: string, allowed: readonly T[]): T | undefined => {
    const raw = element.attributes[attribute];
    const expected = allowed.length === 2 ? `${allowed[0]} or ${allowed[1]}` : `${allowed.slice(0, -1).join(", ")} or ${allowed.at(-1)}`;
    if (raw === undefined) {
      problem(element.line, `<PathFilter ${attribute}>`, `missing attribute (expected ${expected})`);
      return undefined;
    }
    if (!(allowed as readonly string[]).includes(raw.trim())) {
      problem(lineOf(attribute), `<PathFilter ${attribute}>`, `expected ${expected}, got ${showValue(raw, false)}`);
      return undefined;
    }
    return raw.trim() as T;
  };
  const type = choice("Type", PATH_FILTER_TYPES);
  const action = choice("Action", PATH_FILTER_ACTIONS);
  const value = element.attributes["Value"];
  if (value === undefined) {
    problem(element.line, "<PathFilter Value>", "missing attribute");
    return undefined;
  }
  if (!type || !action) return undefined;
  const bad = pathFilterValueProblem(type, value);
  if (bad) {
    problem(lineOf("Value"), "<PathFilter Value>", `expected ${bad}, got ${showValue(value, false)}`);
    return undefined;
  }
  return { type, value, action };
}
