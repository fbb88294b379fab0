import {
  BackupError,
  ConfigError,
  PERIOD_FORMS,
  cacheDirectoryOf,
  isV2,
  parsePeriod,
  prune,
  type Parameters,
  type PruneReport,
  type RetentionPolicy,
  type Verdict,
} from "@rtbackup/core";
import { loadCliConfig, openRepositoryReadOnly, type CommonOptions } from "../context.js";
import { formatBytes } from "../formatBytes.js";
import { outputGuard } from "../outputGuard.js";
import { exactNameFields, terminalText } from "../terminalText.js";

/** Options of `rtb forget`. */
export interface ForgetOptions extends CommonOptions {
  keepWithin?: string;
  keepLast?: string;
  keepHourly?: string;
  keepDaily?: string;
  keepWeekly?: string;
  keepMonthly?: string;
  keepYearly?: string;
  keepDeleted?: string;
  grace?: string;
  dryRun?: boolean;
  force?: boolean;
  json?: boolean;
  /** Where the prune's scratch store goes (default: IndexCachePath, else the user's cache directory). */
  cacheDir?: string;
}

const COUNTS = ["Last", "Hourly", "Daily", "Weekly", "Monthly", "Yearly"] as const;

function count(value: string | undefined, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) > 1_000_000) throw new ConfigError(option, `expected a whole number from 0 to 1,000,000, got "${value}"`);
  return Number(value);
}

function period(value: string | undefined, option: string, fallback: number, allowForever: boolean): number {
  if (value === undefined) return fallback;
  const ms = value.trim() === "0" ? 0 : parsePeriod(value, allowForever);
  if (ms === undefined) throw new ConfigError(option, `expected ${PERIOD_FORMS}${allowForever ? ", or forever" : ""}, got "${value}"`);
  return ms;
}

/** The policy of the configuration (RetentionKeep…), each rule given on the command line replacing its setting. */
export function policyOf(p: Parameters, o: ForgetOptions): RetentionPolicy {
  const counts = Object.fromEntries(COUNTS.map((c) => [`keep${c}`, count(o[`keep${c}`], `--keep-${c.toLowerCase()}`, p[`retentionKeep${c}`])])) as Record<
    `keep${(typeof COUNTS)[number]}`,
    number
  >;
  return {
    keepWithin: period(o.keepWithin, "--keep-within", p.retentionKeepWithin, true),
    ...counts,
    keepDeleted: period(o.keepDeleted, "--keep-deleted", p.retentionKeepDeleted, true),
  };
}

const hasRule = (r: RetentionPolicy) => r.keepWithin > 0 || r.keepDeleted !== Number.POSITIVE_INFINITY || COUNTS.some((c) => r[`keep${c}`] > 0);

function verdictJson(v: Verdict): string {
  const e = v.version.entry!;
  return JSON.stringify({
    event: v.keep ? "keep" : "forget",
    path: v.version.path,
    ...exactNameFields(v.version.path),
    time: v.version.time,
    at: new Date(v.version.time).toISOString(),
    ...(v.until !== undefined ? { until: v.until } : {}),
    ...(v.keep ? { reason: v.keep } : {}),
    type: e.type,
    size: e.size,
  });
}

function summary(r: PruneReport, graceMs: number): string[] {
  const would = r.dryRun ? "would be " : "";
  const [v, p] = [r.versions, r.packs];
  const lines = [
    `versions: ${v.kept} kept, ${v.forgotten} ${would}forgotten (of ${v.forgottenPaths} paths); deletions: ${v.deletionsKept} kept, ${v.deletionsForgotten} ${would}forgotten`,
    `packs: ${p.stored} stored (${formatBytes(p.storedBytes)}), kept versions need ${formatBytes(p.neededBytes)}: ${p.kept} kept, ${p.repack.size} ${would}rewritten, ${p.candidates.size} no longer needed (deleted by a prune at least ${Math.round(graceMs / 3_600_000)} h later), ${p.dead.size} ${would}deleted now (${formatBytes(p.deadBytes)})`,
  ];
  if (!r.dryRun)
    lines.push(
      `index: ${r.commits.read} batches rewritten as ${r.commits.written} under ${r.base}; deleted ${r.deleted.batches} batches, ${r.deleted.checkpoints} checkpoints, ${r.deleted.bases} older bases, ${r.deleted.packs} packs`,
    );
  return lines;
}

/**
 * `rtb forget`: applies the retention policy (the configuration's, each `--keep-…` replacing its setting) and prunes
 * (docs/history.md): the kept versions are written again under a new base, what they no longer need is deleted, packs
 * a grace period after a prune found them unneeded. `--dry-run` prints the plan (each version that would go) and
 * changes nothing. Needs the master key and credentials that may delete; refuses to run with no retention rule.
 */
export async function forgetCommand(options: ForgetOptions): Promise<number> {
  const config = await loadCliConfig(options, "restore");
  const policy = policyOf(config.parameters, options);
  if (!hasRule(policy)) {
    throw new ConfigError(
      "rtb forget",
      "no retention rule: give --keep-within, --keep-last, --keep-hourly … --keep-yearly or --keep-deleted, or set RetentionKeep… in the configuration",
    );
  }
  const graceMs = period(options.grace, "--grace", config.parameters.pruneGracePeriod, false);
  const { engine, repository } = await openRepositoryReadOnly(config);
  try {
    if (!isV2(repository)) throw new BackupError("REPOSITORY_VERSION", "rtb forget prunes format 2 repositories only; this one is format 1 (docs/format.md)");
    // Each verdict is printed as the prune plans it, path after path, before it writes anything.
    const onVerdict = (v: Verdict) => {
      if (outputGuard.stdoutLost()) return;
      if (options.json) process.stdout.write(`${verdictJson(v)}\n`);
      else if (options.dryRun && !v.keep)
        process.stdout.write(
          `forget ${new Date(v.version.time).toISOString()} ${String(v.version.entry!.size).padStart(12)} ${terminalText(v.version.path)}\n`,
        );
    };
    const scratchDirectory = options.cacheDir ?? cacheDirectoryOf(config.parameters);
    const report = await prune(repository, {
      policy,
      graceMs,
      dryRun: Boolean(options.dryRun),
      force: Boolean(options.force),
      scratchDirectory,
      // Told only when there is something to print (reading each version's entry costs a read of the scratch store).
      ...(options.json || options.dryRun ? { onVerdict } : {}),
    });
    const lines = summary(report, graceMs);
    if (options.json) process.stdout.write(`${JSON.stringify({ event: "summary", dryRun: report.dryRun, base: report.base ?? null, text: lines })}\n`);
    else for (const l of lines) process.stderr.write(`rtb forget: ${l}\n`);
    return 0;
  } finally {
    await engine.stop();
  }
}
