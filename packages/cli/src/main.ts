import { BackupError, ConfigError, exitStatusOf, messageOf } from "@rtbackup/core";
import { backupCommand } from "./commands/backup.js";
import { catCommand, listCommand, restoreCommand } from "./commands/restore.js";
import { checkCommand } from "./commands/check.js";
import { diffCommand, logCommand, versionsCommand } from "./commands/history.js";
import { forgetCommand } from "./commands/forget.js";
import { configCheckCommand } from "./commands/configCheck.js";
import { initCommand, keyCommand } from "./commands/key.js";
import { runCommand } from "./commands/run.js";
import { webCommand } from "./commands/web.js";
import { consoleCommand, consoleOptionsFrom } from "./commands/console.js";
import { CommandLine } from "./CommandLine.js";
import { translateDqdArguments } from "./dqdArguments.js";
import { installOutputRedaction } from "./redactOutput.js";
import { outputGuard } from "./outputGuard.js";
import { terminalText } from "./terminalText.js";
import { UsageError } from "./UsageError.js";
import { EXIT_USAGE } from "./exitCodes.js";

const VERSION = "0.1.0";
const AT_HELP = "State as of this time: ISO 8601 (as versions and log print it), ms since the epoch, yesterday, 2h ago …";

function rest(opts: Record<string, unknown>, first?: string): string[] {
  const extra = (opts._ as string[] | undefined) ?? [];
  return first === undefined ? extra.map(String) : [first, ...extra.map(String)];
}

/** Entry point of the `rtb` command. Returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  installOutputRedaction();
  outputGuard.install();
  let code = 0;
  let pending: Promise<void> = Promise.resolve();
  const run: Run = (fn) => {
    pending = fn().then((c) => {
      code = c;
    });
  };
  // Every option is declared here, with `<value>` when it takes one: anything else on a command line is an error.
  const prog = new CommandLine("rtb", VERSION);
  prog
    .option("-c, --config <file>", "Configuration file (XML OperatingParameters, or rtb.config.{json,yaml,js})")
    .option("--store <dir>", "Use a local-directory store at this path (overrides the config's storage)")
    .option("--state <dir>", "Local state cache directory (default: RemoteFileStateCachePath, or a per-store cache dir)")
    .option("--prefix <prefix>", "Repository prefix inside the store or bucket")
    .option("--key-file <file>", "Key of an encrypted repository: rtb key export output, a writer key, or an age identity file")
    .option("--passphrase-file <file>", "File whose first line is the repository passphrase (or RTB_PASSPHRASE_FILE, RTB_PASSPHRASE)")
    .option("--verbose", "Verbose log output")
    .option("--quiet", "Only warnings and errors")
    .refuse("exclude", "exclusions are PathFilters in the configuration (docs/configuration.md)");

  declareBackupCommands(prog, run);
  declareRestoreCommands(prog, run);
  declareHistoryCommands(prog, run);
  declareForget(prog, run);
  declareStoreCommands(prog, run);
  declareKeyCommands(prog, run);

  try {
    prog.parse(translateDqdArguments(argv));
    await pending;
    return code;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(
        `rtb${err.command ? ` ${err.command}` : ""}: ${terminalText(err.message)}\nRun "rtb ${err.command ? `${err.command} ` : ""}--help" for the commands and options.\n`,
      );
      return EXIT_USAGE;
    }
    reportError(err);
    return exitStatusOf(err);
  }
}

/** Writes an error that ended a command on stderr (with its stack under RTB_DEBUG when it is not one of ours). */
function reportError(err: unknown): void {
  // A message can carry a path from the index (or the command line): escaped, so no control character reaches the terminal.
  if (err instanceof ConfigError) process.stderr.write(`rtb: configuration error: ${err.message.split("\n").map(terminalText).join("\n")}\n`);
  else if (err instanceof BackupError) process.stderr.write(`rtb: ${terminalText(err.message)}\n`);
  else process.stderr.write(`rtb: ${terminalText(messageOf(err))}\n${process.env.RTB_DEBUG ? `${(err as Error).stack}\n` : ""}`);
}

/** Runs a command's promise; its result is the exit status. */
type Run = (fn: () => Promise<number>) => void;

/** `backup` and `run`: the commands that upload. */
function declareBackupCommands(prog: CommandLine, run: Run): void {
  prog
    .command("backup [roots...]", "Initial backup of the roots (or BackupRoots), then exit", { alias: "initial-backup" })
    .option("--json", "Print a JSON summary on stdout")
    .option("--no-progress", "No progress output")
    .example("backup ~/Documents --store /mnt/backup/rtb")
    .action((first: string | undefined, opts: Record<string, unknown>) => run(() => backupCommand(rest(opts, first), opts)));

  prog
    .command("run", "Run the daemon: catch up, then back up changes as they happen", { alias: ["daemon", "monitor"] })
    .option("--initial-backup", "Do a full initial backup first (DQD's /INITIALBACKUPTHENMONITOR)")
    .action((opts: Record<string, unknown>) => run(() => runCommand({ ...opts, initialBackup: Boolean(opts["initial-backup"]) })));
}

/** `list`, `restore` and `cat`: the commands that read the store. */
function declareRestoreCommands(prog: CommandLine, run: Run): void {
  prog
    .command("list [dirs...]", "List backed-up files (all), or what is in the given directories", { alias: "ls" })
    .option("-r, --recursive", "List whole subtrees")
    .option("--at <time>", AT_HELP)
    .option("--json", "One JSON object per line")
    .action((first: string | undefined, opts: Record<string, unknown>) => run(() => listCommand(rest(opts, first), opts)));

  prog
    .command("restore <paths...>", "Restore files or directories (/ for everything)")
    .option("-r, --recursive", "Restore whole subtrees of directories")
    .option("--to <dir>", "Base directory (default: current directory); /a/b lands in <to>/a/b")
    .option("--at <time>", AT_HELP)
    .option("--json", "One JSON object per restored file, streamed")
    .option("--no-progress", "No progress line on a terminal")
    .option("--no-sparse", "Write zero blocks out instead of leaving holes")
    .option("--no-xattrs", "Do not set extended attributes (ACLs, file capabilities, user.* ...)")
    .option("--numeric-owner", "As root: restore the recorded uid/gid, not this machine's ids for the recorded names")
    .example("restore /home/alice/Documents -r --to /tmp/restore")
    .action((first: string, opts: Record<string, unknown>) =>
      run(() => restoreCommand(rest(opts, first), { ...opts, numericOwner: Boolean(opts["numeric-owner"]) })),
    );

  prog
    .command("cat <path>", "Write one backed-up file to stdout")
    .option("--at <time>", AT_HELP)
    .action((path: string, opts: Record<string, unknown>) => run(() => catCommand(path, opts)));

  prog
    .command("web", "The restore browser on the store, without a daemon: prints the address to open (token included)")
    .option("--address <ip>", "Listen on this address (default: WebBindAddress, 127.0.0.1)")
    .option("--port <n>", "TCP port, 0 for any free one (default: WebPort, 9478)")
    .option("--token-file <file>", "Take the token from this file (made, mode 0600, when absent); default: a new one per run")
    .example("web --store /mnt/backup/rtb --port 0")
    .action((opts: Record<string, unknown>) => run(() => webCommand(opts)));
}

const CACHE_HELP = "Read every batch from the store, not the local history cache";
const CACHE_DIR_HELP = "Keep the local history cache here (default: IndexCachePath, else ~/.cache/rtb)";

/** `--cache-dir` (as sade gives it, kebab-cased) under the name the history commands take. */
function cacheOptions(opts: Record<string, unknown>): Record<string, unknown> {
  return opts["cache-dir"] === undefined ? opts : { ...opts, cacheDir: String(opts["cache-dir"]) };
}

/** `versions`, `log` and `diff`: the commands that show history (docs/history.md). */
function declareHistoryCommands(prog: CommandLine, run: Run): void {
  prog
    .command("versions <paths...>", "Every committed version of a file or directory entry: time, change, size, mtime, content, writer")
    .option("-r, --recursive", "Also every path under each directory")
    .option("--json", "One JSON object per line")
    .option("--no-cache", CACHE_HELP)
    .option("--cache-dir <dir>", CACHE_DIR_HELP)
    .example("versions /home/alice/notes.txt")
    .action((first: string, opts: Record<string, unknown>) => run(() => versionsCommand(rest(opts, first), cacheOptions(opts))));

  prog
    .command("log [path]", "The commits, oldest first: time, writer, entries put/moved/deleted, bytes (with a path: those touching it)")
    .option("--since <time>", "Commits at or after this time (as --at takes it)")
    .option("--until <time>", "Commits at or before this time")
    .option("--json", "One JSON object per line")
    .option("--no-cache", CACHE_HELP)
    .option("--cache-dir <dir>", CACHE_DIR_HELP)
    .example('log --since "1 day ago" /home/alice')
    .action((path: string | undefined, opts: Record<string, unknown>) => run(() => logCommand(path, cacheOptions(opts))));

  prog
    .command("diff <from> <to> [path]", "What was added (+), removed (-) or changed (M) between two moments, at or under path")
    .option("--json", "One JSON object per line")
    .example("diff yesterday now /etc")
    .action((from: string, to: string, path: string | undefined, opts: Record<string, unknown>) => run(() => diffCommand(from, to, path, opts)));
}

/** `forget` (alias `prune`): retention and prune (docs/history.md). */
function declareForget(prog: CommandLine, run: Run): void {
  const forget = prog.command("forget", "Apply the retention policy and prune what no kept version needs (needs the master key and delete rights)", {
    alias: "prune",
  });
  forget.option("--keep-within <period>", "Keep every version visible within this period (24h, 30d, 1y, forever)");
  forget.option("--keep-last <n>", "Keep the newest n versions of each path");
  const periods = { hourly: "hours", daily: "days", weekly: "weeks (from Monday)", monthly: "months", yearly: "years" };
  for (const [unit, noun] of Object.entries(periods)) forget.option(`--keep-${unit} <n>`, `Keep the version visible at the end of each of the last n ${noun}`);
  forget
    .option("--keep-deleted <period>", "Keep a deleted file's versions this long after its deletion (default: forever)")
    .option("--grace <period>", "Delete packs a prune found unneeded only this long after (default: PruneGracePeriod, 24h)")
    .option("--dry-run", "Print what would be forgotten and deleted; change nothing")
    .option("--force", "Run although another prune's marker says it may be running (one killed on another host)")
    .option("--json", "One JSON object per version (keep or forget), then a summary")
    .option("--cache-dir <dir>", "Put the prune's scratch store (removed when it ends) here (default: IndexCachePath, else ~/.cache/rtb)")
    .example("forget --keep-within 24h --keep-daily 30 --keep-monthly 12 --keep-deleted 90d --dry-run")
    .action((opts: Record<string, unknown>) => {
      const o = (name: string) => (opts[name] === undefined ? {} : { [name.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())]: String(opts[name]) });
      const keeps = ["within", "last", "hourly", "daily", "weekly", "monthly", "yearly", "deleted"].map((k) => `keep-${k}`);
      const names = [...keeps, "grace", "cache-dir"];
      run(() =>
        forgetCommand({
          ...opts,
          ...Object.assign({}, ...names.map(o)),
          dryRun: Boolean(opts["dry-run"]),
          force: Boolean(opts.force),
          json: Boolean(opts.json),
        }),
      );
    });
}

/** `init` and `key`: the commands that create a repository and manage its keys (docs/encryption.md). */
function declareKeyCommands(prog: CommandLine, run: Run): void {
  prog
    .command("init", "Create the repository the configuration names (encrypted with --encryption)")
    .option("--encryption", "Encrypt it: the first key opens with the passphrase, or with --key-file (an age identity file)")
    .example("init --encryption --store /mnt/backup/rtb")
    .action((opts: Record<string, unknown>) => run(() => initCommand(opts)));

  prog
    .command("key <subcommand> [args...]", "Keys of an encrypted repository: list, add, remove <id>, passwd, export")
    .option("--new-passphrase-file <file>", "add, passwd: the new passphrase, from a file (else RTB_NEW_PASSPHRASE, else asked twice)")
    .option("--new-key-file <file>", "add, passwd: wrap the new key for this age identity file (or age1… recipient) instead")
    .option("--writer", "export: the writer key (adds to the repository, reads nothing) instead of the master key")
    .option("--out <file>", "export: write a new file, mode 600, instead of stdout")
    .option("--json", "list: one JSON object per line")
    .example("key export --writer --out /etc/rtb/writer.key")
    .action((sub: string, first: string | undefined, opts: Record<string, unknown>) => run(() => keyCommand(sub, rest(opts, first), opts)));
}

/** `check`, `config check` and `console`: the commands that verify the store, the config or a running daemon. */
function declareStoreCommands(prog: CommandLine, run: Run): void {
  prog
    .command("check", "Verify the store: every index object readable, no gaps, checkpoints agree, every content object present")
    .option("--read-data", "Also download and re-hash every content object")
    .option("--read-data-subset <spec>", "Download only part of the content: P% (a random slice) or n/t (the n-th of t slices)")
    .option("--json", "One JSON object per line")
    .option("--repair", "Store again missing or corrupt chunks whose bytes are still on disk; record the rest in the state cache")
    .example("check --read-data-subset 10% --store /mnt/usb/rtb")
    .action((opts: Record<string, unknown>) => run(() => checkCommand(opts)));

  prog
    .command("config check [file]", "Validate a configuration file without starting anything")
    .option("--print", "Print the effective configuration (secrets masked)")
    .option("--xml", "Print it as OperatingParameters XML")
    .action((file: string | undefined, opts: Record<string, unknown>) => run(() => configCheckCommand(file, opts)));

  prog
    .command("console <subcommand> [paths...]", "Talk to a running daemon: stats, check, pause, unpause, rescan, rescan-status, cancel-rescan, watch")
    .option("--connect <endpoint>", "Bridge endpoint: a UNIX socket path or host:port (default: the config's IPCPath)")
    .option("--token-file <file>", "Token for a TCP bridge (default: <IPCPath>/bridge-token)")
    .option("--json", "One JSON object per line")
    .option("--xml", "XML output under <RTBOutput> (DQD's /XML)")
    .option("--repeat", "stats: repeat until interrupted (DQD's /GETSTATSREPEAT)")
    .option("--uploads", "stats: include uploads in progress (DQD's /GETSTATSINCLUDEUPLOADS)")
    .option("--discard", "unpause: drop the paths buffered while paused (DQD's /DISCARDBUFFEREDNOTIFICATIONS)")
    .option("--follow", "rescan-status: follow the rescan until it ends (DQD's /FOLLOWRESCAN)")
    .option("--interval <ms>", "stats --repeat and rescan-status --follow: milliseconds between updates", 1000)
    .option("--count <n>", "stats --repeat and watch: stop after this many outputs")
    .example("console stats --repeat --uploads")
    .example("console check /home/alice/notes.txt --connect /run/DQD.RealTimeBackup/bridge.socket")
    .action((sub: string, first: string | undefined, opts: Record<string, unknown>) =>
      run(() => consoleCommand(sub, rest(opts, first), consoleOptionsFrom(opts))),
    );
}
