import { ConfigError } from "../errors.js";
import type { Logger } from "../logger.js";
import { didYouMean } from "./didYouMean.js";
import { formatDuration } from "./duration.js";
import { BadValue, durationKind, MAX_TIMER_MS, showValue, type ValueKind, type ValueSource } from "./valueKinds.js";

/** What reading an option needs of a kind: reading a JS value. Every {@link ValueKind} is one. */
export type OptionKind<T> = Pick<ValueKind<T>, "fromValue">;

/** How {@link PluginOptions.read} names and shows options. */
export interface PluginOptionsSettings {
  /** Options whose values are never shown in an error (keys, passwords). */
  readonly secret?: readonly string[];
  /**
   * Names an option in errors. Default `<owner>.options.<option>`; a storage plugin that fills options from the
   * parameters names those by their XML element instead.
   */
  readonly where?: (option: string) => string;
  /** Where relative paths resolve (a JS/JSON/YAML config's directory); without it a path must be absolute. */
  readonly source?: ValueSource;
}

/**
 * The options object given to a plugin (or to a class a plugin builds), checked the way the config loader checks
 * parameters: with the same {@link ValueKind}s, and with every error a {@link ConfigError} that names the option as
 * `<owner>.options.<option>` (items of a list as `<option>[i]`), says what was expected and what was given (never
 * a secret). An unknown option is an error that suggests the nearest known one.
 *
 * ```ts
 * const o = PluginOptions.read("ZfsSnapshotPlugin", options, ["access", "commandTimeout"]);
 * const access = o.get("access", enumKind(["auto", "snapdir", "clone"]), "auto");
 * const timeout = o.get("commandTimeout", durationKind(true), 120_000);
 * ```
 */
export class PluginOptions {
  readonly #owner: string;
  readonly #values: Readonly<Record<string, unknown>>;
  readonly #settings: PluginOptionsSettings;

  private constructor(owner: string, values: Record<string, unknown>, settings: PluginOptionsSettings) {
    this.#owner = owner;
    this.#values = values;
    this.#settings = settings;
  }

  /** Checks that `input` is an object (or absent: no options) whose keys are all `known`. */
  static read(owner: string, input: unknown, known: readonly string[], settings: PluginOptionsSettings = {}): PluginOptions {
    if (input === undefined || input === null) return new PluginOptions(owner, {}, settings);
    if (typeof input !== "object" || Array.isArray(input)) {
      throw new ConfigError(`${owner}.options`, `expected an object of options, got ${Array.isArray(input) ? "a list" : showValue(input, false)}`);
    }
    const values = input as Record<string, unknown>;
    const options = new PluginOptions(owner, values, settings);
    for (const key of Object.keys(values)) {
      if (known.includes(key)) continue;
      const near = didYouMean(key, known);
      options.fail(key, `unknown option${near ? ` (did you mean ${near}?)` : ""}; known: ${known.join(", ")}`);
    }
    return options;
  }

  /** How `option` is named in errors. */
  where(option: string): string {
    return this.#settings.where?.(option) ?? `${this.#owner}.options.${option}`;
  }

  /** Whether `option` was given. */
  has(option: string): boolean {
    return this.#values[option] !== undefined;
  }

  /** The value of `option` read by `kind`; `fallback` (or undefined) when it was not given. */
  get<T>(option: string, kind: OptionKind<T>): T | undefined;
  get<T>(option: string, kind: OptionKind<T>, fallback: T): T;
  get<T>(option: string, kind: OptionKind<T>, fallback?: T): T | undefined {
    const value = this.#values[option];
    return value === undefined ? fallback : this.#convert(value, kind, option, this.where(option));
  }

  /** Like {@link get}, but an absent option is an error. */
  required<T>(option: string, kind: OptionKind<T>, expected: string): T {
    if (!this.has(option)) this.fail(option, `required: expected ${expected}`);
    return this.get(option, kind)!;
  }

  /** A list option, each item read by `kind` and named `<option>[i]` when bad; undefined when not given. */
  list<T>(option: string, kind: OptionKind<T>): T[] | undefined {
    const value = this.#values[option];
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) this.fail(option, `expected a list, got ${this.#show(option, value)}`);
    return value.map((item, i) => this.#convert(item, kind, option, `${this.where(option)}[${i}]`));
  }

  /** Throws the {@link ConfigError} for a bad `option`: `<owner>.options.<option>: <message>`. */
  fail(option: string, message: string): never {
    throw new ConfigError(this.where(option), message);
  }

  #convert<T>(value: unknown, kind: OptionKind<T>, option: string, where: string): T {
    try {
      return kind.fromValue(value, this.#settings.source ?? {});
    } catch (err) {
      if (!(err instanceof BadValue)) throw err;
      throw new ConfigError(where, `expected ${err.expected}, got ${this.#show(option, value)}`);
    }
  }

  #show(option: string, value: unknown): string {
    return showValue(value, this.#settings.secret?.includes(option) ?? false);
  }
}

/** A value only code can give (a function, an object with methods, ...) or one with a check of its own. */
export function checkedKind<T>(expected: string, accept: (value: unknown) => boolean): OptionKind<T> {
  return {
    fromValue(value) {
      if (!accept(value)) throw new BadValue(expected);
      return value as T;
    },
  };
}

/** A function (a callback or an injected dependency); only a JS config or code can give one. */
export const functionKind: OptionKind<(...args: never[]) => unknown> = checkedKind("a function", (v) => typeof v === "function");

/** A string that is not empty or blank; returned trimmed. */
export const nonEmptyTextKind: OptionKind<string> = {
  fromValue(value) {
    if (typeof value !== "string" || value.trim() === "") throw new BadValue("a non-empty string");
    return value.trim();
  },
};

/** A finite number in `[min, max]`, fractions allowed; `unit` (e.g. "milliseconds") is named in the message. */
export function numberKind(min: number, max: number, unit?: string): OptionKind<number> {
  const expected = `a number${unit ? ` of ${unit}` : ""} from ${min} to ${max}`;
  return checkedKind(expected, (v) => typeof v === "number" && Number.isFinite(v) && v >= min && v <= max);
}

/** A {@link Logger} (`engine.getLogger(name)`), for classes a plugin builds that log where the engine does. */
export const loggerKind: OptionKind<Logger> = checkedKind(
  "a Logger (engine.getLogger(name))",
  (v) => typeof v === "object" && v !== null && typeof (v as Logger).warn === "function",
);

/**
 * A duration from `minMs` to `maxMs`: a number of milliseconds, or an xs:duration string (`"PT30S"`) as in the
 * parameters. The message names both bounds in milliseconds and as a duration.
 */
export function durationRangeKind(minMs: number, maxMs: number = MAX_TIMER_MS): OptionKind<number> {
  const duration = durationKind(false);
  const bound = (ms: number) => `${ms} ms (${formatDuration(ms)})`;
  const expected = maxMs === MAX_TIMER_MS ? `a duration of at least ${bound(minMs)}` : `a duration from ${bound(minMs)} to ${bound(maxMs)}`;
  return {
    fromValue(value, source) {
      let ms: number;
      try {
        ms = duration.fromValue(value, source);
      } catch (err) {
        if (err instanceof BadValue) throw new BadValue(`${expected}: ${err.expected}`);
        throw err;
      }
      if (ms < minMs || ms > maxMs) throw new BadValue(expected);
      return ms;
    },
  };
}
