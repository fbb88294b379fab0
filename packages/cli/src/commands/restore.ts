import { resolve } from "node:path";
import { BackupError, Restorer, loadTree, type FileEntry, type RestoreEvent } from "@rtbackup/core";
import { loadCliConfig, openRepositoryReadOnly, parseAt, type CommonOptions } from "../context.js";
import { formatBytes } from "../progress.js";
import { exactNameFields, terminalText } from "../terminalText.js";

/** Options of `rtb list`, `rtb restore` and `rtb cat`. */
export interface RestoreOptions extends CommonOptions {
  at?: string;
  json?: boolean;
  recursive?: boolean;
  to?: string;
}

async function openTree(options: RestoreOptions) {
  const config = await loadCliConfig(options, "restore");
  const { engine, repository } = await openRepositoryReadOnly(config);
  const at = parseAt(options.at);
  const tree = await loadTree(repository, at === undefined ? {} : { at });
  return { engine, repository, tree };
}

function line(entry: FileEntry): string {
  const mode = entry.mode.toString(8).padStart(4, "0");
  const when = new Date(entry.mtimeMs).toISOString();
  const kind = entry.type === "dir" ? "d" : entry.type === "symlink" ? "l" : "-";
  const link = entry.type === "symlink" ? ` -> ${terminalText(entry.target ?? "")}` : "";
  return `${kind} ${mode} ${String(entry.size).padStart(12)} ${when} ${terminalText(entry.path)}${link}`;
}

function jsonOf(entry: FileEntry): string {
  const { chunks, ...rest } = entry;
  return JSON.stringify({ event: "entry", ...rest, ...exactNameFields(entry.path, entry.target), chunks: chunks.length });
}

/**
 * `rtb list [dirs...]`: every backed-up path (no argument: all files, as DQD's /LISTALLFILES), or the files in
 * each directory (its whole subtree with `-r`). Reads the remote index only.
 */
export async function listCommand(dirs: string[], options: RestoreOptions): Promise<number> {
  const { engine, tree } = await openTree(options);
  try {
    const selection = dirs.length === 0 ? Restorer.select(tree.entries, ["/"], true) : Restorer.select(tree.entries, dirs, Boolean(options.recursive));
    const shown = dirs.length === 0 ? selection.entries.filter((e) => e.type !== "dir") : selection.entries;
    for (const entry of shown) process.stdout.write(`${options.json ? jsonOf(entry) : line(entry)}\n`);
    for (const m of selection.missing) {
      if (options.json) process.stdout.write(`${JSON.stringify({ event: "missing", path: m })}\n`);
      else process.stderr.write(`rtb list: ${m}: not in the backup\n`);
    }
    return selection.missing.length ? 1 : 0;
  } finally {
    await engine.hooks.shutdown.promise();
  }
}

/**
 * `rtb restore <paths...>`: restores files, and the files of directories (subtrees with `-r`), under `--to`
 * (default: the current directory, as DQD does: /a/b.txt lands in ./a/b.txt). Exit 0 when everything was
 * restored, 1 when anything failed, was unsafe or was not found.
 */
export async function restoreCommand(paths: string[], options: RestoreOptions): Promise<number> {
  if (paths.length === 0) throw new BackupError("RESTORE_NOT_FOUND", "rtb restore: name at least one file or directory (/ for everything)");
  const { engine, repository, tree } = await openTree(options);
  try {
    const selection = Restorer.select(tree.entries, paths, Boolean(options.recursive));
    const report = (e: RestoreEvent) => {
      if (options.json) process.stdout.write(`${JSON.stringify(e)}\n`);
      else if (e.event === "restored") {
        if (engine.parameters.verbosity !== "Quiet") process.stdout.write(`restored ${terminalText(e.path)}\n`);
      } else process.stderr.write(`rtb restore: ${e.event === "unsafe" ? "UNSAFE, skipped" : "FAILED"} ${terminalText(e.path)}: ${e.error}\n`);
    };
    for (const m of selection.missing) {
      if (options.json) process.stdout.write(`${JSON.stringify({ event: "missing", path: m })}\n`);
      else process.stderr.write(`rtb restore: ${m}: not in the backup\n`);
    }
    const restorer = new Restorer(repository, { onEvent: report });
    const result = await restorer.restore(selection.entries, resolve(options.to ?? "."));
    if (options.json) process.stdout.write(`${JSON.stringify({ event: "summary", ...result, missing: selection.missing.length })}\n`);
    else process.stderr.write(`restore done: ${result.restored} restored (${formatBytes(result.bytes)}), ${result.errors} failed, ${result.unsafe} unsafe, ${selection.missing.length} not found\n`);
    return result.errors || result.unsafe || selection.missing.length ? 1 : 0;
  } finally {
    await engine.hooks.shutdown.promise();
  }
}

/** `rtb cat <path>`: writes one file's content to stdout, each chunk verified before it is written. */
export async function catCommand(path: string, options: RestoreOptions): Promise<number> {
  const { engine, repository, tree } = await openTree(options);
  try {
    const entry = tree.entries.get(resolve("/", path));
    if (!entry) throw new BackupError("RESTORE_NOT_FOUND", `${path}: not in the backup`);
    await new Restorer(repository).cat(entry, process.stdout);
    return 0;
  } finally {
    await engine.hooks.shutdown.promise();
  }
}
