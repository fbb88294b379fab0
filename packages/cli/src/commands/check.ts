import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  BackupError,
  ConfigError,
  StateCache,
  messageOf,
  StorageError,
  acquireLock,
  checkRepository,
  checkRepositoryV2,
  isV2,
  parseReadDataSubset,
  repairChunks,
  type CheckOutcome,
  type CheckWarning,
  type Damage,
  type Lock,
  type RepairResult,
  type ReadDataSubset,
  type Repository,
  type RepositoryV2,
} from "@rtbackup/core";
import { loadCliConfig, openRepositoryReadOnly, type CommonOptions } from "../context.js";
import { EXIT_CHECK_DAMAGE } from "../exitCodes.js";
import { formatBytes } from "../progress.js";
import { exactNameFields, terminalText } from "../terminalText.js";

/** Options of `rtb check`. */
export interface CheckCommandOptions extends CommonOptions {
  "read-data"?: boolean;
  "read-data-subset"?: string | boolean;
  json?: boolean;
  repair?: boolean;
}

/** The state cache of this repository, when there is one and no other rtb process holds it. */
interface CacheAccess {
  cache?: StateCache;
  lock?: Lock;
  note?: string;
}

/** Opens the state cache under its lock. A cache that is busy, foreign or unreadable is left alone (with a note). */
async function openCache(directory: string, repo: Repository): Promise<CacheAccess> {
  if (!existsSync(join(directory, "state.mdb"))) return { note: `no local state cache in ${directory}` };
  let lock: Lock;
  try {
    lock = await acquireLock(directory);
  } catch (err) {
    if (err instanceof BackupError && err.code === "LOCKED") return { note: `${err.message}: the state cache is left alone` };
    return { note: `cannot lock the state cache in ${directory}: ${messageOf(err)}` };
  }
  let cache: StateCache;
  try {
    cache = await StateCache.open(directory);
  } catch (err) {
    await lock.release();
    return { note: messageOf(err) };
  }
  if (cache.discarded) {
    await cache.close();
    await lock.release();
    return { note: `state cache: ${cache.discarded}` };
  }
  if (cache.repositoryId !== repo.config.id) {
    await cache.close();
    await lock.release();
    return { note: `the state cache in ${directory} belongs to another repository` };
  }
  return { cache, lock };
}

/** A progress line on a TTY (stderr) while the check runs; nothing otherwise. */
function progressLine(enabled: boolean) {
  const out = process.stderr;
  let shown = false;
  let last = 0;
  return {
    phase(phase: string) {
      if (!enabled) return;
      out.write(`\rcheck: ${phase}…\x1b[K`);
      shown = true;
    },
    read(done: number, total: number) {
      if (!enabled || (Date.now() - last < 200 && done < total)) return;
      last = Date.now();
      out.write(`\rcheck: reading data ${done}/${total} (${Math.floor((done * 100) / Math.max(total, 1))}%)\x1b[K`);
      shown = true;
    },
    done() {
      if (shown) out.write("\r\x1b[K");
      shown = false;
    },
  };
}

async function closeCache(access: CacheAccess): Promise<void> {
  await access.cache?.close();
  await access.lock?.release();
}

function when(ms: number | undefined): string {
  return ms === undefined || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15 ? String(ms) : new Date(ms).toISOString();
}

function humanDamage(d: Damage): string {
  const lines = [`DAMAGE ${terminalText(d.message)}`];
  for (const p of d.paths ?? []) lines.push(`  differs: ${terminalText(p)}`);
  if (d.pathCount !== undefined && d.pathCount > (d.paths?.length ?? 0)) lines.push(`  … and ${d.pathCount - (d.paths?.length ?? 0)} more path(s)`);
  for (const v of d.dependents ?? []) {
    const where = v.key.startsWith("index/checkpoint/") ? "checkpoint" : "batch";
    lines.push(`  needed by ${terminalText(v.path)} (${where} ${v.seq}, ${when(v.time)})${v.current ? " [current]" : ""}`);
  }
  if (d.dependentCount !== undefined && d.dependentCount > (d.dependents?.length ?? 0)) {
    lines.push(`  … and ${d.dependentCount - (d.dependents?.length ?? 0)} more version(s)`);
  }
  return `${lines.join("\n")}\n`;
}

function jsonDamage(d: Damage): string {
  const dependents = d.dependents?.map((v) => ({ ...v, ...exactNameFields(v.path) }));
  return `${JSON.stringify({ event: "damage", ...d, ...(dependents ? { dependents } : {}) })}\n`;
}

function jsonWarning(w: CheckWarning): string {
  return `${JSON.stringify({ event: "warning", ...w })}\n`;
}

function parseSubset(options: CheckCommandOptions) {
  const value = options["read-data-subset"];
  if (value === undefined || value === false) return undefined;
  if (value === true || value === "") throw new ConfigError("--read-data-subset", "needs a value: a percentage such as 10% or a slice n/t such as 2/5");
  return parseReadDataSubset(value);
}

function printReport(outcome: CheckOutcome, json: boolean): void {
  for (const d of outcome.damage) process.stdout.write(json ? jsonDamage(d) : humanDamage(d));
  for (const w of outcome.warnings) process.stdout.write(json ? jsonWarning(w) : `warning: ${terminalText(w.message)}\n`);
}

function printRepair(result: RepairResult, access: CacheAccess, json: boolean): void {
  for (const r of result.repaired) {
    process.stdout.write(
      json ? `${JSON.stringify({ event: "repaired", ...r, ...exactNameFields(r.from) })}\n` : `REPAIRED ${r.key} from ${terminalText(r.from)}\n`,
    );
  }
  for (const l of result.left) {
    if (json) process.stdout.write(`${JSON.stringify({ event: "unrepaired", ...l })}\n`);
    else process.stdout.write(`NOT REPAIRED ${l.key}: ${terminalText(l.reason)}\n`);
  }
  const recorded = result.recorded
    ? `recorded in the state cache: ${result.recorded.chunks} chunk(s) no longer believed stored, ${result.recorded.paths} path(s) to be read again by the next backup`
    : `not recorded in a state cache (${access.note ?? "none"}); the next backup that rebuilds its cache from the store's listing uploads missing chunks again`;
  if (result.left.length) {
    if (json)
      process.stdout.write(
        `${JSON.stringify({ event: "recorded", ...(result.recorded ?? { chunks: 0, paths: 0 }), cache: Boolean(result.recorded), note: access.note ?? null })}\n`,
      );
    else process.stdout.write(`${terminalText(recorded)}\n`);
  }
}

/**
 * `rtb check [--read-data | --read-data-subset P%|n/t] [--json] [--repair]`: verifies the store without restoring it
 * (docs: packages/cli/README.md "Verifying a store"). Exit 0 when nothing is damaged (after `--repair`: nothing is
 * left), {@link EXIT_CHECK_DAMAGE} when damage was found, 1 when the check itself could not run (a store that cannot
 * be reached is not damage).
 */
export async function checkCommand(options: CheckCommandOptions): Promise<number> {
  const subset = parseSubset(options);
  const readData = Boolean(options["read-data"]) || subset !== undefined;
  const json = Boolean(options.json);
  const config = await loadCliConfig(options, "restore");
  let opened;
  try {
    opened = await openRepositoryReadOnly(config);
  } catch (err) {
    // The config object itself is corrupt: that is damage, not a failure to run.
    if (!(err instanceof StorageError) || err.code !== "INTEGRITY") throw err;
    const d: Damage = { kind: "config-unreadable", key: "config", message: err.message };
    process.stdout.write(json ? jsonDamage(d) : humanDamage(d));
    return EXIT_CHECK_DAMAGE;
  }
  const { engine, repository } = opened;
  if (isV2(repository))
    return checkV2(repository, { readData, subset, json, repair: Boolean(options.repair), quiet: config.parameters.verbosity === "Quiet" }, engine);
  let access: CacheAccess = {};
  try {
    access = await openCache(config.parameters.remoteFileStateCachePath, repository);
    const expectSequence = access.cache && access.cache.lastSequence >= 0 ? access.cache.lastSequence : undefined;
    if (!options.repair) {
      await closeCache(access);
      access = { ...(access.note ? { note: access.note } : {}) };
    }
    const progress = progressLine(Boolean(process.stderr.isTTY) && !json && config.parameters.verbosity !== "Quiet");
    let outcome: CheckOutcome;
    try {
      outcome = await checkRepository(repository, {
        readData,
        ...(subset ? { subset } : {}),
        ...(expectSequence !== undefined ? { expectSequence } : {}),
        onPhase: (phase) => progress.phase(phase === "index" ? "reading the index" : phase === "content" ? "listing content" : "replaying the journal"),
        onRead: (done, total) => progress.read(done, total),
      });
    } finally {
      progress.done();
    }
    printReport(outcome, json);
    const { repaired, left } = options.repair ? await repair(repository, outcome, access, json) : { repaired: 0, left: outcome.damage.length };
    printSummary(outcome.summary, { json, readData, subset, repair: Boolean(options.repair), repaired, left });
    return left === 0 ? 0 : EXIT_CHECK_DAMAGE;
  } finally {
    await closeCache(access);
    await engine.stop();
  }
}

/** `rtb check` of a v2 repository: no state cache is consulted, and `--repair` is refused (not built for v2 yet). */
async function checkV2(
  repository: RepositoryV2,
  o: { readData: boolean; subset: ReadDataSubset | undefined; json: boolean; repair: boolean; quiet: boolean },
  engine: { stop(): Promise<void> },
): Promise<number> {
  try {
    if (o.repair)
      throw new ConfigError("--repair", "is not available for format v2 repositories yet: restore damaged packs from another copy, or back the files up again");
    const progress = progressLine(Boolean(process.stderr.isTTY) && !o.json && !o.quiet);
    let outcome: CheckOutcome;
    try {
      outcome = await checkRepositoryV2(repository, {
        readData: o.readData,
        ...(o.subset ? { subset: o.subset } : {}),
        onPhase: (phase) => progress.phase(phase === "index" ? "reading the lanes" : phase === "content" ? "listing packs" : "collecting dependents"),
        onRead: (done, total) => progress.read(done, total),
      });
    } finally {
      progress.done();
    }
    printReport(outcome, o.json);
    printSummary(outcome.summary, { json: o.json, readData: o.readData, subset: o.subset, repair: false, repaired: 0, left: outcome.damage.length });
    return outcome.damage.length === 0 ? 0 : EXIT_CHECK_DAMAGE;
  } finally {
    await engine.stop();
  }
}

/** `--repair`: stores again what it can and reports it; `left` counts the damage still there (index damage included). */
async function repair(repository: Repository, outcome: CheckOutcome, access: CacheAccess, json: boolean): Promise<{ repaired: number; left: number }> {
  const chunkDamage = outcome.damage.filter((d) => d.kind === "chunk-missing" || d.kind === "chunk-corrupt").length;
  const result = await repairChunks(repository, outcome, access.cache ? { cache: access.cache } : {});
  printRepair(result, access, json);
  const left = outcome.damage.length - chunkDamage + result.left.length;
  if (left > result.left.length && !json)
    process.stdout.write("index damage is not repaired by --repair: restore the objects named above from another copy of the store\n");
  return { repaired: result.repaired.length, left };
}

/** The last line: what was checked, what is damaged, what was repaired (a `summary` event with `--json`). */
function printSummary(
  s: CheckOutcome["summary"],
  o: { json: boolean; readData: boolean; subset: ReadDataSubset | undefined; repair: boolean; repaired: number; left: number },
): void {
  const { readData, subset, repaired, left } = o;
  if (o.json) {
    process.stdout.write(
      `${JSON.stringify({ event: "summary", ...s, readData, ...(subset ? { subset: subset.spec } : {}), repaired, left, ok: left === 0 })}\n`,
    );
    return;
  }
  const read = readData ? `, ${s.chunksRead} read (${formatBytes(s.bytesRead)}${subset ? `, subset ${subset.spec}` : ""})` : "";
  const tail = o.repair ? `; ${repaired} repaired, ${left} left` : "";
  process.stdout.write(
    `check: ${s.batches} batch(es), ${s.checkpoints} checkpoint(s), last sequence ${s.lastSequence}; ${s.chunksReferenced} chunk(s) referenced, ${s.chunksPresent} present${read}; ` +
      `${s.orphans} orphan object(s) (${formatBytes(s.orphanBytes)}); ${s.damaged} damaged, ${s.warnings} warning(s)${tail}\n`,
  );
}
