import { ConfigError } from "@rtbackup/core";

/** Checks that plugin or check options are a plain object (or absent) and returns them as a record. */
export function optionsRecord(options: unknown, where: string, known: readonly string[]): Record<string, unknown> {
  if (options === undefined || options === null) return {};
  if (typeof options !== "object" || Array.isArray(options)) {
    throw new ConfigError(where, "expected an object of options");
  }
  const record = options as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!known.includes(key)) {
      throw new ConfigError(`${where}.${key}`, `unknown option (expected one of: ${known.join(", ")})`);
    }
  }
  return record;
}

/** An optional non-empty string option. */
export function optionalString(record: Record<string, unknown>, key: string, where: string): string | undefined {
  const value = record[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.length === 0) {
    throw new ConfigError(`${where}.${key}`, `expected a non-empty string, got ${describe(value)}`);
  }
  return value;
}

/** An optional absolute path option. */
export function optionalAbsolutePath(record: Record<string, unknown>, key: string, where: string): string | undefined {
  const value = optionalString(record, key, where);
  if (value !== undefined && !value.startsWith("/")) {
    throw new ConfigError(`${where}.${key}`, `expected an absolute path, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** An optional finite number option within [min, max]. */
export function optionalNumber(record: Record<string, unknown>, key: string, where: string, min: number, max: number, integer = false): number | undefined {
  const value = record[key];
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new ConfigError(`${where}.${key}`, `expected ${integer ? "an integer" : "a number"} from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
  return Array.isArray(value) ? "an array" : typeof value;
}
