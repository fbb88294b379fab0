import { resolve } from "node:path";
import {
  BackupError,
  ConfigError,
  contentIdOf,
  diffTrees,
  loadTree,
  cacheDirectoryOf,
  openHistory,
  type Change,
  type CommitSummary,
  type FileEntry,
  type HistoryReader,
  type IndexDamagedError,
  type Version,
} from "@rtbackup/core";
import { loadCliConfig, openRepositoryReadOnly, parseAt, type CommonOptions } from "../context.js";
import { formatBytes } from "../formatBytes.js";
import { outputGuard } from "../outputGuard.js";
import { exactNameFields, terminalText } from "../terminalText.js";
import { EXIT_INDEX_DAMAGED } from "../exitCodes.js";

/** Options of `rtb versions`, `rtb log` and `rtb diff`. */
export interface HistoryOptions extends CommonOptions {
  json?: boolean;
  recursive?: boolean;
  since?: string;
  until?: string;
  /** `--no-cache` sets it false: read the store, not the local history cache. */
  cache?: boolean;
  cacheDir?: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Names each damaged object on stderr (`--json`: a `damage` line) and gives the exit status it leaves (4, or 0). */
function reportDamage(command: string, damage: readonly IndexDamagedError[], json: boolean | undefined): number {
  for (const d of damage) {
    if (json) process.stdout.write(`${JSON.stringify({ event: "damage", key: d.key ?? null, error: d.message })}\n`);
    else process.stderr.write(`rtb ${command}: index damage: ${terminalText(d.message)}\n`);
  }
  if (damage.length && !json) process.stderr.write(`rtb ${command}: showing what could be read (rtb check tells more)\n`);
  return damage.length ? EXIT_INDEX_DAMAGED : 0;
}

/**
 * Opens the history of the configured repository (through the local cache unless `--no-cache`; the engine is
 * stopped after `use`). A cache that cannot be used is named on stderr and the store is read instead.
 */
async function withHistory(options: HistoryOptions, command: string, until: number | undefined, use: (h: HistoryReader) => Promise<number>): Promise<number> {
  const config = await loadCliConfig(options, "restore");
  const { engine, repository } = await openRepositoryReadOnly(config);
  try {
    const cacheDirectory = options.cache === false ? undefined : (options.cacheDir ?? cacheDirectoryOf(config.parameters));
    const history = await openHistory(repository, {
      cacheDirectory: cacheDirectory === undefined ? undefined : resolve(cacheDirectory),
      ...(until === undefined ? {} : { until }),
      onCacheProblem: (m) => process.stderr.write(`rtb ${command}: ${terminalText(m)}\n`),
    });
    try {
      const damaged = reportDamage(command, history.damage, options.json);
      return Math.max(await use(history), damaged, outputStatus(command));
    } finally {
      await history.close();
    }
  } finally {
    await engine.stop();
  }
}

/** 1 with a message when stdout failed for another reason than its reader going away (`| head` is fine). */
function outputStatus(command: string): number {
  const lost = outputGuard.stdoutLost();
  if (lost?.kind !== "error") return 0;
  process.stderr.write(`rtb ${command}: cannot write to standard output: ${terminalText(lost.message)}\n`);
  return 1;
}

function emit(text: string): boolean {
  if (outputGuard.stdoutLost()) return false;
  process.stdout.write(`${text}\n`);
  return true;
}

/** A writer as people read it: `host/lane8` for a v2 lane whose host is known, the lane's first 8 digits, or "journal". */
function writerName(history: HistoryReader, writer: string): string {
  const host = history.hosts.get(writer);
  const short = writer === "journal" ? writer : writer.slice(0, 8);
  return host ? `${terminalText(host)}/${short}` : short;
}

function entryFields(entry: FileEntry) {
  return { type: entry.type, size: entry.size, mtimeMs: entry.mtimeMs, mtime: iso(entry.mtimeMs), mode: entry.mode, content: contentIdOf(entry) ?? null };
}

function versionLine(history: HistoryReader, v: Version): string {
  const e = v.entry;
  const size = e ? String(e.size) : "-";
  const mtime = e ? iso(e.mtimeMs) : "-".padEnd(24);
  const content = e ? (contentIdOf(e)?.slice(0, 12) ?? "-") : "-";
  const from = v.from !== undefined ? ` (from ${terminalText(v.from)})` : "";
  return `${iso(v.time)} ${v.event.padEnd(7)} ${size.padStart(12)} ${mtime} ${content.padEnd(12)} ${writerName(history, v.writer).padEnd(8)} ${terminalText(v.path)}${from}`;
}

function versionJson(history: HistoryReader, v: Version): string {
  const host = history.hosts.get(v.writer);
  return JSON.stringify({
    event: "version",
    path: v.path,
    ...exactNameFields(v.path),
    change: v.event,
    time: v.time,
    at: iso(v.time),
    writer: v.writer,
    ...(host !== undefined ? { host } : {}),
    seq: v.seq,
    ...(v.entry ? entryFields(v.entry) : {}),
    ...(v.from !== undefined ? { from: v.from } : {}),
  });
}

/**
 * `rtb versions <paths...>`: every committed version of each path (with `-r`, of everything under it), oldest first:
 * commit time (which `--at` takes back), what happened (put, moved, deleted), size, mtime, content id and writer.
 * Exit 1 when a path has no version at all.
 */
export async function versionsCommand(paths: string[], options: HistoryOptions): Promise<number> {
  if (paths.length === 0) throw new BackupError("RESTORE_NOT_FOUND", "rtb versions: name at least one path");
  return withHistory(options, "versions", undefined, async (history) => {
    let missing = 0;
    for (const path of paths.map((p) => resolve(p))) {
      const versions = await history.versions(path, { recursive: Boolean(options.recursive) });
      if (versions.length === 0) {
        missing++;
        if (options.json) emit(JSON.stringify({ event: "missing", path, ...exactNameFields(path) }));
        else process.stderr.write(`rtb versions: ${terminalText(path)}: no version in the backup\n`);
      }
      for (const v of versions) if (!emit(options.json ? versionJson(history, v) : versionLine(history, v))) break;
    }
    return missing ? 1 : 0;
  });
}

function summaryLine(history: HistoryReader, s: CommitSummary): string {
  const stored = s.storedBytes !== undefined ? `, stored ${formatBytes(s.storedBytes)}` : "";
  return `${iso(s.time)} ${writerName(history, s.writer).padEnd(8)} #${String(s.seq).padEnd(6)} ${s.put} put, ${s.moved} moved, ${s.deleted} deleted, ${formatBytes(s.bytes)}${stored}`;
}

/** `rtb log [path]`: the commits, oldest first, one line each (with a path: those that touched it or what is under it). */
export async function logCommand(path: string | undefined, options: HistoryOptions): Promise<number> {
  const since = parseAt(options.since, "--since");
  const until = parseAt(options.until, "--until");
  if (since !== undefined && until !== undefined && since > until) throw new ConfigError("--since", `${iso(since)} is after --until ${iso(until)}`);
  return withHistory(options, "log", until, async (history) => {
    const filter = {
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
      ...(path !== undefined ? { path: resolve(path) } : {}),
    };
    for (const s of await history.summaries(filter)) {
      const host = history.hosts.get(s.writer);
      const json = () => JSON.stringify({ event: "commit", ...s, at: iso(s.time), ...(host !== undefined ? { host } : {}) });
      if (!emit(options.json ? json() : summaryLine(history, s))) break;
    }
    return 0;
  });
}

const MARK: Record<Change["kind"], string> = { added: "+", removed: "-", changed: "M" };

function changeLine(c: Change): string {
  const what = c.kind === "changed" ? ` (${c.parts.join(", ")})` : "";
  return `${MARK[c.kind]} ${terminalText(c.path)}${what}`;
}

function changeJson(c: Change): string {
  return JSON.stringify({
    event: c.kind,
    path: c.path,
    ...exactNameFields(c.path),
    ...(c.kind === "changed" ? { parts: c.parts } : {}),
    ...(c.before ? { before: entryFields(c.before) } : {}),
    ...(c.after ? { after: entryFields(c.after) } : {}),
  });
}

/** `rtb diff <from> <to> [path]`: what was added, removed or changed between two moments, at or under `path`. */
export async function diffCommand(from: string, to: string, path: string | undefined, options: HistoryOptions): Promise<number> {
  const t1 = parseAt(from, "diff <from>")!;
  const t2 = parseAt(to, "diff <to>")!;
  const config = await loadCliConfig(options, "restore");
  const { engine, repository } = await openRepositoryReadOnly(config);
  try {
    const a = await loadTree(repository, { at: t1, salvage: true });
    const b = await loadTree(repository, { at: t2, salvage: true });
    const damaged = reportDamage("diff", [...a.damage, ...b.damage.filter((d) => !a.damage.some((x) => x.message === d.message))], options.json);
    for (const c of diffTrees(a.entries, b.entries, path === undefined ? "/" : resolve(path))) if (!emit(options.json ? changeJson(c) : changeLine(c))) break;
    return Math.max(damaged, outputStatus("diff"));
  } finally {
    await engine.stop();
  }
}
