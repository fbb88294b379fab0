import { defaultParameters, defaultPathFilters, MUST_BE_SET, type Parameters, type PathFilterRule } from "./Parameters.js";

/** What a loader read from a file, before defaults and cross-field rules. */
export interface ParameterSettings {
  /** The values the file set explicitly (each already valid on its own). */
  readonly values: Partial<Parameters>;
  /** The file's own path filters, if it had any, and whether they replace the defaults. */
  readonly pathFilters?: { readonly rules: readonly PathFilterRule[]; readonly replaceDefaults: boolean } | undefined;
}

/** Reports a problem with the setting `key`; `name` turns a key into the file's spelling of it. */
export interface ParameterReporter {
  report(key: keyof Parameters, message: string): void;
  name(key: keyof Parameters): string;
}

/** True when a credential holds a real value (not empty, not DQD's "MUST BE SET" placeholder). */
export function isSet(value: string): boolean {
  return value.trim() !== "" && value !== MUST_BE_SET;
}

/**
 * Fills in defaults and applies the rules that involve several settings, the same for XML and JS configs:
 * - path filters: the file's rules first, then the 22 defaults (unless `replaceDefaults`); a default identical to
 *   one of the file's rules is dropped (it could never decide anything);
 * - `storage` defaults to `b2` when RemoteStorageKeyID holds a real value, else `local`; `b2` needs all three B2
 *   credentials; `s3` needs a bucket, and an access key ID and secret key either both or neither;
 * - `stabilityCheck` defaults to `lsof` when LSOFBinaryPath was set explicitly, else `procfs`;
 * - QueueLowWaterMark must be below QueueHighWaterMark.
 */
export function completeParameters(settings: ParameterSettings, reporter: ParameterReporter): Parameters {
  const explicit = settings.values;
  const parameters: Parameters = { ...defaultParameters(), ...explicit };

  if (settings.pathFilters) {
    const own = settings.pathFilters.rules.map((r) => ({ type: r.type, value: r.value, action: r.action }));
    const same = (a: PathFilterRule, b: PathFilterRule) => a.type === b.type && a.value === b.value && a.action === b.action;
    const defaults = settings.pathFilters.replaceDefaults ? [] : defaultPathFilters().filter((d) => !own.some((r) => same(r, d)));
    parameters.pathFilters = [...own, ...defaults];
  }

  if (explicit.storage === undefined) parameters.storage = isSet(parameters.remoteStorageKeyID) ? "b2" : "local";
  if (parameters.storage === "b2") {
    const reason = explicit.storage === undefined ? `(${reporter.name("remoteStorageKeyID")} is set, so storage is b2)` : "when storage is b2";
    for (const key of ["remoteStorageKeyID", "remoteStorageApplicationKey", "remoteStorageBucketID"] as const) {
      if (!isSet(parameters[key])) reporter.report(key, `must be set ${reason}`);
    }
  }
  if (parameters.storage === "s3") {
    if (parameters.s3Bucket === "") reporter.report("s3Bucket", "must be set when storage is s3");
    const id = parameters.s3AccessKeyId.trim() !== "";
    const secret = parameters.s3SecretAccessKey.trim() !== "";
    if (id !== secret) {
      const missing = id ? "s3SecretAccessKey" : "s3AccessKeyId";
      const other = id ? "s3AccessKeyId" : "s3SecretAccessKey";
      reporter.report(missing, `must be set together with ${reporter.name(other)} (or leave both empty for the AWS SDK's default credentials)`);
    }
  }

  if (explicit.stabilityCheck === undefined) parameters.stabilityCheck = explicit.lsofBinaryPath === undefined ? "procfs" : "lsof";

  const { queueLowWaterMark: low, queueHighWaterMark: high } = parameters;
  if (low >= high) {
    if (explicit.queueLowWaterMark === undefined) {
      reporter.report("queueHighWaterMark", `expected a number above ${reporter.name("queueLowWaterMark")} (${low}), got ${high}`);
    } else {
      reporter.report("queueLowWaterMark", `expected a number below ${reporter.name("queueHighWaterMark")} (${high}), got ${low}`);
    }
  }
  return parameters;
}
