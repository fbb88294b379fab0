import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Writable } from "node:stream";
import {
  BackupError,
  Restorer,
  arraySource,
  cacheDirectoryOf,
  isV2,
  loadTree,
  selectFromSpill,
  spillTreeV2,
  type ChunkSource,
  type FileEntry,
  type IndexDamagedError,
  type LoadTreeOptions,
  type Parameters,
  type RepositoryV2,
  type RestoreEvent,
  type RestoreSource,
  type SpilledTree,
} from "@rtbackup/core";
import { loadCliConfig, openRepositoryReadOnly, parseAt, type CommonOptions } from "../context.js";
import { listEntries, type ListedEntry } from "../listing.js";
import { outputGuard } from "../outputGuard.js";
import { Progress, formatBytes } from "../progress.js";
import { exactNameFields, terminalText } from "../terminalText.js";
import { EXIT_INDEX_DAMAGED } from "../exitCodes.js";

/** Options of `rtb list`, `rtb restore` and `rtb cat`. */
export interface RestoreOptions extends CommonOptions {
  at?: string;
  json?: boolean;
  recursive?: boolean;
  to?: string;
  progress?: boolean;
  sparse?: boolean;
  xattrs?: boolean;
  numericOwner?: boolean;
}

/**
 * Opens the store and reads the tree, salvaging: each damaged index object (or gap) is named on stderr (`--json`: a
 * `damage` event) and the rest is still listed or restored; `damaged` is then the exit status the command ends with.
 */
async function openTree(options: RestoreOptions, command: string) {
  const config = await loadCliConfig(options, "restore");
  const { engine, repository } = await openRepositoryReadOnly(config);
  const tree = await loadTree(repository, loadOptionsOf(options));
  return { engine, tree, damaged: reportDamage(tree.damage, options, command) };
}

/** What the commands read the tree as: salvaging, as of `--at`. */
function loadOptionsOf(options: RestoreOptions): LoadTreeOptions {
  const at = parseAt(options.at);
  return { salvage: true, ...(at === undefined ? {} : { at }) };
}

/** Names each damaged index object on stderr (`--json`: a `damage` event); the exit status the command ends with. */
function reportDamage(damage: readonly IndexDamagedError[], options: RestoreOptions, command: string): number {
  for (const d of damage) {
    if (options.json) process.stdout.write(`${JSON.stringify({ event: "damage", key: d.key ?? null, error: d.message })}\n`);
    else process.stderr.write(`rtb ${command}: index damage: ${terminalText(d.message)}\n`);
  }
  if (damage.length && !options.json) {
    process.stderr.write(
      `rtb ${command}: working from what could be read; entries the damaged objects changed may be missing or stale (rtb check tells more)\n`,
    );
  }
  return damage.length ? EXIT_INDEX_DAMAGED : 0;
}

/** What a restore restores: its entries as a source, the requests that matched nothing, how many and how much. */
interface Selected {
  source: RestoreSource;
  missing: string[];
  count: number;
  bytes: number;
}

/**
 * The scratch tree of a restore: in the cache directory, else (a read-only home) in a new private directory in the
 * temp directory, made with mkdtemp (not a name another user could have made first) and removed with it.
 */
async function spillFor(repository: RepositoryV2, parameters: Parameters, options: LoadTreeOptions): Promise<SpilledTree> {
  try {
    return await spillTreeV2(repository, [cacheDirectoryOf(parameters)], options);
  } catch (err) {
    if (!(err instanceof BackupError && err.code === "STATE_CACHE")) throw err;
    const own = mkdtempSync(join(tmpdir(), "rtb-restore-"));
    const remove = () => rmSync(own, { recursive: true, force: true });
    try {
      const tree = await spillTreeV2(repository, [own], options);
      return { ...tree, close: () => tree.close().finally(remove) };
    } catch (again) {
      remove();
      throw again;
    }
  }
}

/** Paths on the command line resolve against the current directory, as `rtb backup`'s roots do. */
const absolute = (paths: readonly string[]) => paths.map((p) => resolve(p));

/** `ls -l`'s first letter for each entry type. */
const KIND_LETTERS: Record<FileEntry["type"], string> = { file: "-", dir: "d", symlink: "l", fifo: "p", chardev: "c", blockdev: "b" };

function line(entry: ListedEntry): string {
  if ("implied" in entry) return `d ---- ${"-".padStart(12)} ${"-".padEnd(24)} ${terminalText(entry.path)}`;
  const mode = entry.mode.toString(8).padStart(4, "0");
  const when = new Date(entry.mtimeMs).toISOString();
  const kind = KIND_LETTERS[entry.type];
  const link =
    entry.type === "symlink"
      ? ` -> ${terminalText(entry.target ?? "")}`
      : entry.type === "chardev" || entry.type === "blockdev"
        ? ` (${entry.major ?? 0}:${entry.minor ?? 0})`
        : "";
  return `${kind} ${mode} ${String(entry.size).padStart(12)} ${when} ${terminalText(entry.path)}${link}`;
}

function jsonOf(entry: ListedEntry): string {
  if ("implied" in entry) return JSON.stringify({ event: "entry", ...entry, ...exactNameFields(entry.path) });
  const { chunks, ...rest } = entry;
  return JSON.stringify({ event: "entry", ...rest, ...exactNameFields(entry.path, entry.target), chunks: chunks.length });
}

/** A requested path that matched nothing, on stdout as JSON or on stderr as text (escaped like every path). */
function reportMissing(command: string, path: string, json: boolean | undefined): void {
  if (json) process.stdout.write(`${JSON.stringify({ event: "missing", path, ...exactNameFields(path) })}\n`);
  else process.stderr.write(`rtb ${command}: ${terminalText(path)}: not in the backup\n`);
}

/** 0, or 1 with a message when stdout failed for another reason than its reader going away (`| head` is fine). */
function outputStatus(command: string): number {
  const lost = outputGuard.stdoutLost();
  if (lost?.kind !== "error") return 0;
  process.stderr.write(`rtb ${command}: cannot write to standard output: ${terminalText(lost.message)}\n`);
  return 1;
}

/**
 * `rtb list [dirs...]`: every backed-up file (no argument, as DQD's /LISTALLFILES), or what is in each directory:
 * its files, symlinks and subdirectories (`d` lines, implied directories too), its whole subtree with `-r`. `/` and
 * the parents of backed-up directories work. Reads the remote index only; stops early when stdout's reader goes away.
 */
export async function listCommand(dirs: string[], options: RestoreOptions): Promise<number> {
  if (dirs.length === 0) return listAll(options);
  const { engine, tree, damaged } = await openTree(options, "list");
  try {
    const selection: { entries: ListedEntry[]; missing: string[] } =
      dirs.length === 0 ? Restorer.select(tree.entries, ["/"], true) : listEntries(tree.entries, absolute(dirs), Boolean(options.recursive));
    const shown = dirs.length === 0 ? selection.entries.filter((e) => e.type !== "dir") : selection.entries;
    for (const entry of shown) {
      if (outputGuard.stdoutLost()) break;
      process.stdout.write(`${options.json ? jsonOf(entry) : line(entry)}\n`);
    }
    for (const m of selection.missing) reportMissing("list", m, options.json);
    return Math.max(selection.missing.length ? 1 : 0, outputStatus("list"), damaged);
  } finally {
    await engine.stop();
  }
}

/**
 * The tree as `rtb restore`, `rtb list` (no argument) and `rtb cat` read it: a selection to restore, every entry in
 * path order, one by path, and the content.
 */
interface TreeView {
  select(paths: readonly string[], recursive: boolean): Selected;
  all(): Iterable<FileEntry>;
  get(path: string): FileEntry | undefined;
  chunks: ChunkSource;
  parameters: Parameters;
  /** The exit status the tree's damage gives (reported when it was opened). */
  damaged: number;
  /** Removes what was made to read it and stops the engine. */
  close(): Promise<void>;
}

/**
 * The tree of the store: from a v2 store merged into a scratch tree on disk ({@link spillFor}) and read from it, so
 * that a million entries are never all in memory (a restore holds a piece of its selection at a time); from a v1
 * store read into memory.
 */
async function openTreeView(options: RestoreOptions, command: string): Promise<TreeView> {
  const config = await loadCliConfig(options, "restore");
  const { engine, repository } = await openRepositoryReadOnly(config);
  const { parameters } = engine;
  try {
    if (!isV2(repository)) {
      const tree = await loadTree(repository, loadOptionsOf(options));
      const damaged = reportDamage(tree.damage, options, command);
      const select = (paths: readonly string[], recursive: boolean): Selected => {
        const { entries, missing } = Restorer.select(tree.entries, paths, recursive);
        const bytes = entries.reduce((n, e) => n + (e.type === "file" ? e.size : 0), 0);
        return { source: arraySource(entries), missing, count: entries.length, bytes };
      };
      const all = () => Restorer.select(tree.entries, ["/"], true).entries;
      return { select, all, get: (p) => tree.entries.get(p), chunks: tree.chunks, parameters, damaged, close: () => engine.stop() };
    }
    const { spill, chunks, damage, close } = await spillFor(repository, parameters, loadOptionsOf(options));
    const damaged = reportDamage(damage, options, command);
    return {
      select: (paths, recursive) => selectFromSpill(spill, paths, recursive),
      all: () => inPathOrder(spill),
      get: (p) => spill.get(p),
      chunks,
      parameters,
      damaged,
      close: () => close().finally(() => engine.stop()),
    };
  } catch (err) {
    await engine.stop();
    throw err;
  }
}

/** Every entry of a spill in path order: the path-keyed ones as stored, the few hash-keyed ones sorted in among them. */
function* inPathOrder(spill: SpilledTree["spill"]): Generator<FileEntry> {
  const hashed = [...spill.hashed()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  let h = 0;
  for (const entry of spill.byPath()) {
    while (h < hashed.length && hashed[h]!.path < entry.path) yield hashed[h++]!;
    yield entry;
  }
  yield* hashed.slice(h);
}

/** `rtb list` without arguments: every backed-up entry but directories, read as {@link openTreeView} reads the tree. */
async function listAll(options: RestoreOptions): Promise<number> {
  const tree = await openTreeView(options, "list");
  try {
    let any = false;
    for (const entry of tree.all()) {
      any = true;
      if (outputGuard.stdoutLost()) break;
      if (entry.type !== "dir") process.stdout.write(`${options.json ? jsonOf(entry) : line(entry)}\n`);
    }
    if (!any) reportMissing("list", "/", options.json);
    return Math.max(any ? 0 : 1, outputStatus("list"), tree.damaged);
  } finally {
    await tree.close();
  }
}

/**
 * `rtb restore <paths...>`: restores files, and the files of directories (subtrees with `-r`), under `--to`
 * (default: the current directory, as DQD does: /a/b.txt lands in ./a/b.txt). One `restored` line per file on stdout,
 * except on a terminal, which gets a progress line instead; `--json` streams every event. Writing stdout can fail
 * (`| head`) without stopping the restore. Exit 0 when everything was restored, 1 when anything failed, was unsafe or
 * was not found, 4 when the index is damaged (what could be read was still restored).
 */
export async function restoreCommand(paths: string[], options: RestoreOptions): Promise<number> {
  if (paths.length === 0) throw new BackupError("RESTORE_NOT_FOUND", "rtb restore: name at least one file or directory (/ for everything)");
  const tree = await openTreeView(options, "restore");
  try {
    const selected = tree.select(absolute(paths), Boolean(options.recursive));
    const quiet = tree.parameters.verbosity === "Quiet";
    const onTerminal = Boolean(process.stdout.isTTY && process.stderr.isTTY);
    // Progress counts the bytes of every file dealt with, restored or not, so a failure does not hold the line below 100%.
    const totalBytes = selected.bytes;
    const done = { entries: 0, bytes: 0 };
    const label = { error: "FAILED", unsafe: "UNSAFE, skipped", incomplete: "INCOMPLETE" } as const;
    const report = (e: RestoreEvent) => {
      // An `incomplete` event follows its entry's `restored` event: not another entry done.
      if (e.event !== "incomplete") {
        done.entries++;
        done.bytes += e.event === "restored" ? (e.type === "file" ? e.size : 0) : (e.size ?? 0);
      }
      if (options.json) process.stdout.write(`${JSON.stringify({ ...e, ...exactNameFields(e.path) })}\n`);
      else if (e.event === "restored") {
        if (!quiet && !onTerminal) process.stdout.write(`restored ${terminalText(e.path)}\n`);
      } else process.stderr.write(`rtb restore: ${label[e.event]} ${terminalText(e.path)}: ${terminalText(e.error)}\n`);
    };
    for (const m of selected.missing) reportMissing("restore", m, options.json);
    const progress = new Progress(
      () => ({
        phase: "restoring",
        counters: `${done.entries}/${selected.count} entries`,
        ...(totalBytes > 0 ? { done: done.bytes, total: totalBytes, unit: "bytes" as const } : { done: done.entries, total: selected.count }),
      }),
      { enabled: onTerminal && !options.json && !quiet && options.progress !== false, plain: false },
    );
    const restorer = new Restorer(tree.chunks, {
      onEvent: report,
      sparse: options.sparse !== false,
      xattrs: options.xattrs !== false,
      numericOwner: Boolean(options.numericOwner),
    });
    let result;
    try {
      result = await restorer.restoreFrom(selected.source, resolve(options.to ?? "."));
    } finally {
      progress.done();
    }
    if (options.json) process.stdout.write(`${JSON.stringify({ event: "summary", ...result, missing: selected.missing.length })}\n`);
    else
      process.stderr.write(
        `restore done: ${result.restored} restored (${formatBytes(result.bytes)}), ${result.errors} failed, ${result.unsafe} unsafe, ${selected.missing.length} not found` +
          `${result.incomplete ? `; ${result.incomplete} restored without some of their metadata (INCOMPLETE above)` : ""}\n`,
      );
    return Math.max(result.errors || result.unsafe || selected.missing.length ? 1 : 0, outputStatus("restore"), tree.damaged);
  } finally {
    await tree.close();
  }
}

/** Stdout for `Restorer.cat`: a write after stdout's reader went away throws, so the rest is not downloaded. */
class StdoutSink extends Writable {
  override write(chunk: unknown): boolean {
    if (outputGuard.stdoutLost()) throw new BackupError("OUTPUT_CLOSED", "standard output was closed");
    const ok = process.stdout.write(chunk as Buffer);
    if (!ok) process.stdout.once("drain", () => this.emit("drain"));
    return ok;
  }
}

/** `rtb cat <path>`: writes one file's content to stdout, each chunk verified before it is written. */
export async function catCommand(path: string, options: RestoreOptions): Promise<number> {
  const tree = await openTreeView(options, "cat");
  try {
    const entry = tree.get(resolve(path));
    if (!entry) throw new BackupError("RESTORE_NOT_FOUND", `${path}: not in the backup`);
    try {
      await new Restorer(tree.chunks).cat(entry, new StdoutSink());
    } catch (err) {
      if (!outputGuard.stdoutLost()) throw err;
    }
    return Math.max(outputStatus("cat"), tree.damaged);
  } finally {
    await tree.close();
  }
}
