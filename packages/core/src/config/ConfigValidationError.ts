import { ConfigError } from "../errors.js";

/** One bad value (or unknown name) found while loading a configuration file. */
export interface ConfigProblem {
  /** The file as named in messages (what the caller passed, or a path relative to the working directory); "" if none. */
  readonly file: string;
  /** 1-based line of the element, attribute or key, when known. */
  readonly line: number | undefined;
  /** 1-based column, only for malformed XML/JSON/YAML. */
  readonly column: number | undefined;
  /** What is wrong: `<UploadThreadCount>`, `<PathFilter Type>`, `parameters.uploadThreadCount`, `plugins[2].module`. */
  readonly subject: string;
  /** What was expected and what was found (never a secret's value). */
  readonly message: string;
  /** The whole line as printed: `rtb.xml:7: <UploadThreadCount>: expected ..., got "-2"`. */
  readonly text: string;
}

/** Builds a {@link ConfigProblem}, formatting its `text`. */
export function configProblem(file: string, line: number | undefined, subject: string, message: string, column?: number): ConfigProblem {
  const problem = { file, line, column, subject, message };
  const place = placeOf(problem);
  return { ...problem, text: `${place === "" ? "" : `${place}: `}${subject === "" ? "" : `${subject}: `}${message}` };
}

function placeOf(p: Pick<ConfigProblem, "file" | "line" | "column">): string {
  if (p.line === undefined) return p.file;
  return p.column === undefined ? `${p.file}:${p.line}` : `${p.file}:${p.line}:${p.column}`;
}

/**
 * Every problem found in one configuration file, thrown at once so that a user fixes them all in one go. It is a
 * {@link ConfigError} (code `CONFIG_INVALID`). With one problem the message is that problem's line
 * (`rtb.xml:7: <UploadThreadCount>: expected a whole number from 1 to 256, got "-2"`); with several it is a count
 * followed by one indented line per problem.
 */
export class ConfigValidationError extends ConfigError {
  /** The problems, in file order. Never empty. */
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const first = problems[0];
    if (!first) throw new TypeError("ConfigValidationError needs at least one problem");
    const place = placeOf(first);
    if (problems.length === 1 && place === "") {
      super(first.subject || "configuration", first.message);
    } else if (problems.length === 1) {
      super(place, first.subject ? `${first.subject}: ${first.message}` : first.message);
    } else {
      const files = new Set(problems.map((p) => p.file));
      const where = files.size === 1 && first.file !== "" ? first.file : "configuration";
      super(where, `${problems.length} problems:\n${problems.map((p) => `  ${p.text}`).join("\n")}`);
    }
    this.problems = problems;
  }
}
