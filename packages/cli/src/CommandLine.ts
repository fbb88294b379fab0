import sade from "sade";
import { nearestName } from "./nearestName.js";
import { UsageError } from "./UsageError.js";

/** One declared option: `--store <dir>` takes a value, `--json` does not. */
interface OptionSpec {
  long: string;
  short?: string;
  /** Placeholder of the value (`dir`), for options that take one. */
  value?: string;
}

interface CommandSpec {
  name: string;
  aliases: string[];
  required: string[];
  optional: string[];
  variadic: boolean;
  options: OptionSpec[];
}

/** Handled by sade itself, on every command. */
const BUILT_IN: OptionSpec[] = [
  { long: "help", short: "h" },
  { long: "version", short: "v" },
];

function parseFlags(flags: string): OptionSpec {
  const m = /^(?:-([A-Za-z]),\s*)?--([a-z][a-z0-9-]*)(?:\s+<([^>]+)>)?$/.exec(flags.trim());
  if (!m) throw new Error(`option declaration "${flags}": expected "-x, --name <value>", "--name <value>" or "--name"`);
  return { long: m[2]!, ...(m[1] ? { short: m[1] } : {}), ...(m[3] ? { value: m[3] } : {}) };
}

const isFlag = (token: string) => token.startsWith("-");

/**
 * The `rtb` command line: sade's commands and help, made strict. Every token is checked against the options the
 * command declares before sade sees it: an unknown option or a typo is a {@link UsageError} naming it (with the
 * nearest known option), as is an option that needs a value given without one, an option given twice, a value given
 * to a flag, an unknown command, or a missing or extra argument. Options are declared as `--store <dir>` (takes a
 * value) or `--json` (a flag); usages end a variadic argument with `...` (`restore <paths...>`).
 */
export class CommandLine {
  readonly #bin: string;
  readonly #prog: ReturnType<typeof sade>;
  readonly #global: OptionSpec[] = [];
  readonly #commands: CommandSpec[] = [];
  readonly #refused = new Map<string, string>();
  #current: CommandSpec | undefined;

  constructor(bin: string, version: string) {
    this.#bin = bin;
    this.#prog = sade(bin).version(version);
  }

  /** Declares an option of the current command (of every command before the first `command`). */
  option(flags: string, description: string, defaultValue?: string | number | boolean): this {
    const spec = parseFlags(flags);
    for (const other of [...BUILT_IN, ...this.#global, ...this.#commands.flatMap((c) => c.options)]) {
      const same = other.long === spec.long || (spec.short !== undefined && other.short === spec.short);
      if (same && (other.long !== spec.long || Boolean(other.value) !== Boolean(spec.value) || other.short !== spec.short)) {
        throw new Error(`option ${flags} conflicts with --${other.long}: one name, one meaning on every command`);
      }
    }
    const list = this.#current ? this.#current.options : this.#global;
    if (list.some((o) => o.long === spec.long)) throw new Error(`option --${spec.long} declared twice`);
    list.push(spec);
    const sadeFlags = `${spec.short ? `-${spec.short}, ` : ""}--${spec.long}`;
    const text = spec.value ? `<${spec.value}> ${description}` : description;
    if (defaultValue === undefined) this.#prog.option(sadeFlags, text);
    else this.#prog.option(sadeFlags, text, defaultValue as string | number | boolean);
    return this;
  }

  /** Declares a command: `restore <paths...>`, `config check [file]`. */
  command(usage: string, description: string, options: { alias?: string | string[] } = {}): this {
    const words = usage.trim().split(/\s+/);
    const nameWords = words.filter((w) => !/^[<[]/.test(w));
    const args = words.filter((w) => /^[<[]/.test(w));
    const aliases = options.alias === undefined ? [] : [options.alias].flat();
    const spec: CommandSpec = {
      name: nameWords.join(" "),
      aliases,
      required: args.filter((a) => a.startsWith("<")),
      optional: args.filter((a) => a.startsWith("[")),
      variadic: args.at(-1)?.includes("...") ?? false,
      options: [],
    };
    this.#commands.push(spec);
    this.#current = spec;
    this.#prog.command(usage, description, aliases.length ? { alias: aliases } : {});
    return this;
  }

  /** An example line in the current command's help. */
  example(text: string): this {
    this.#prog.example(text);
    return this;
  }

  /** The current command's handler: its arguments, then the parsed options (sade's convention). */
  action(handler: (...args: never[]) => void): this {
    this.#prog.action(handler as (...args: unknown[]) => void);
    return this;
  }

  /** An option that does not exist but users reach for: refused with `why` (`--exclude`: use PathFilters). */
  refuse(long: string, why: string): this {
    this.#refused.set(long, why);
    return this;
  }

  /** Checks `argv` ({@link check}), then lets sade parse it and call the command's handler. */
  parse(argv: readonly string[]): void {
    const ordered = this.check(argv);
    const options = [...this.#global, ...this.#commands.flatMap((c) => c.options)];
    this.#prog.parse(ordered, {
      boolean: options.filter((o) => !o.value).map((o) => o.long.replace(/^no-/, "")),
      string: options.filter((o) => o.value).map((o) => o.long),
    });
  }

  /**
   * Checks a command line (`[node, script, ...args]`) strictly; throws a {@link UsageError} for the first problem.
   * Returns the same line with the command's words first, which is where sade looks for them.
   */
  check(argv: readonly string[]): string[] {
    const [node = "node", script = this.#bin, ...args] = argv;
    const dashDash = args.indexOf("--");
    const end = dashDash < 0 ? args.length : dashDash;
    const positional = this.#positionals(args, end);
    const words = positional.map((i) => args[i]!);
    const help = args.slice(0, end).some((a) => a === "-h" || a === "--help" || a === "-v" || a === "--version");
    if (words.length === 0) {
      if (help) return [node, script, ...args];
      throw new UsageError(`no command given; commands: ${this.#commands.map((c) => c.name).join(", ")}`);
    }
    const { command, used } = this.#resolve(words);
    const commandIndexes = positional.slice(0, used);
    const ordered = [node, script, ...commandIndexes.map((i) => args[i]!), ...args.filter((_, i) => !commandIndexes.includes(i))];
    if (help) return ordered;
    this.#checkOptions(command, args, end);
    const given = words.length - used;
    if (given < command.required.length) throw new UsageError(`missing ${command.required.slice(given).join(" ")}`, command.name);
    if (!command.variadic && given > command.required.length + command.optional.length) {
      const extra = words[used + command.required.length + command.optional.length]!;
      const takes = [...command.required, ...command.optional].join(" ") || "no arguments";
      throw new UsageError(`unexpected argument "${extra}" (it takes ${takes})`, command.name);
    }
    return ordered;
  }

  /** Indexes of the tokens that are not options or option values (everything after `--` included). */
  #positionals(args: readonly string[], end: number): number[] {
    const out: number[] = [];
    const all = [...BUILT_IN, ...this.#global, ...this.#commands.flatMap((c) => c.options)];
    for (let i = 0; i < end; i++) {
      const a = args[i]!;
      if (!isFlag(a)) {
        out.push(i);
        continue;
      }
      if (a.includes("=")) continue;
      const spec = a.startsWith("--") ? all.find((o) => o.long === a.slice(2)) : all.find((o) => o.short === a.at(-1));
      if (spec?.value && i + 1 < end && !isFlag(args[i + 1]!)) i++;
    }
    for (let i = end + 1; i < args.length; i++) out.push(i);
    return out;
  }

  #resolve(words: readonly string[]): { command: CommandSpec; used: number } {
    const byName = (name: string) => this.#commands.find((c) => c.name === name || c.aliases.includes(name));
    const two = words.length >= 2 ? byName(`${words[0]} ${words[1]}`) : undefined;
    if (two) return { command: two, used: 2 };
    const one = byName(words[0]!);
    if (one && !one.name.includes(" ")) return { command: one, used: 1 };
    const names = this.#commands.flatMap((c) => [c.name, ...c.aliases]);
    const multi = names.some((n) => n.startsWith(`${words[0]} `));
    const typed = multi && words.length >= 2 ? `${words[0]} ${words[1]}` : words[0]!;
    const near = nearestName(typed, names);
    throw new UsageError(`unknown command "${typed}"${near ? ` (did you mean "${near}"?)` : ""}; commands: ${this.#commands.map((c) => c.name).join(", ")}`);
  }

  #checkOptions(command: CommandSpec, args: readonly string[], end: number): void {
    const allowed = [...this.#global, ...command.options, ...BUILT_IN];
    const seen = new Set<string>();
    const unknown = (flag: string, name: string): UsageError => {
      const refused = this.#refused.get(name);
      if (refused) return new UsageError(`there is no option ${flag}: ${refused}`, command.name);
      const elsewhere = this.#commands.filter((c) => c !== command && c.options.some((o) => o.long === name || o.short === name)).map((c) => c.name);
      const near =
        name.length === 1
          ? allowed.find((o) => o.short?.toLowerCase() === name.toLowerCase())?.short
          : nearestName(
              name,
              allowed.map((o) => o.long),
            );
      const hint = elsewhere.length
        ? ` (${flag} is an option of ${elsewhere.map((c) => `${this.#bin} ${c}`).join(", ")})`
        : near
          ? ` (did you mean ${near.length === 1 ? "-" : "--"}${near}?)`
          : "";
      return new UsageError(`unknown option ${flag}${hint}`, command.name);
    };
    const take = (spec: OptionSpec, flag: string, inline: string | undefined, i: number): number => {
      if (!spec.value) {
        if (inline !== undefined) throw new UsageError(`${flag} takes no value (got "${inline}")`, command.name);
        return i;
      }
      let value = inline;
      if (value === undefined && i + 1 < end && !isFlag(args[i + 1]!)) value = args[++i]!;
      if (value === undefined || value === "") throw new UsageError(`${flag} needs a value: ${flag} <${spec.value}>`, command.name);
      if (seen.has(spec.long)) throw new UsageError(`--${spec.long} given more than once`, command.name);
      seen.add(spec.long);
      return i;
    };
    for (let i = 0; i < end; i++) {
      const a = args[i]!;
      if (!isFlag(a)) continue;
      const eq = a.indexOf("=");
      const inline = eq < 0 ? undefined : a.slice(eq + 1);
      if (a.startsWith("--")) {
        const name = a.slice(2, eq < 0 ? undefined : eq);
        const spec = allowed.find((o) => o.long === name);
        if (!spec) throw unknown(`--${name}`, name);
        i = take(spec, `--${name}`, inline, i);
        continue;
      }
      const letters = a.slice(1, eq < 0 ? undefined : eq);
      if (letters === "") throw new UsageError(`unexpected "${a}"`, command.name);
      for (let k = 0; k < letters.length; k++) {
        const ch = letters[k]!;
        const spec = allowed.find((o) => o.short === ch);
        if (!spec) throw unknown(`-${ch}`, ch);
        const last = k === letters.length - 1;
        if (!last && spec.value) throw new UsageError(`-${ch} needs a value: -${ch} <${spec.value}>`, command.name);
        if (last) i = take(spec, `-${ch}`, inline, i);
      }
    }
  }
}
