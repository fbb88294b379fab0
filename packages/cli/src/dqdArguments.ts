/**
 * Accepts DQD.RealTimeBackup's slash-style arguments so its users' scripts keep working:
 * `/INITIALBACKUPTHENEXIT` → `backup`, `/INITIALBACKUPTHENMONITOR` → `run --initial-backup`, `/CONFIG f` → `--config f`, and the Restore tool's `/LISTALLFILES`,
 * `/LISTDIRECTORY d`, `/RESTOREFILE f`, `/RESTOREDIRECTORY d`, `/RESTORETO d`, `/CATFILE f`, `/RECURSIVE`, `/XML`
 * (→ `--json`, our machine-readable output), `/VERBOSE`, `/QUIET`. Anything else is passed through unchanged.
 */
export function translateDqdArguments(argv: string[]): string[] {
  const [node = "node", script = "rtb", ...args] = argv;
  if (!args.some((a) => /^\/[A-Z?]+$/.test(a))) return argv;
  const flags: string[] = [];
  const positional: string[] = [];
  let command: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = () => args[++i] ?? "";
    switch (a.toUpperCase()) {
      case "/INITIALBACKUPTHENEXIT":
        command = "backup";
        break;
      case "/INITIALBACKUPTHENMONITOR":
        command = "run";
        flags.push("--initial-backup");
        break;
      case "/CONFIG":
        flags.push("--config", next());
        break;
      case "/VERBOSE":
        flags.push("--verbose");
        break;
      case "/QUIET":
        flags.push("--quiet");
        break;
      case "/LISTALLFILES":
        command = "list";
        break;
      case "/LISTDIRECTORY":
        command = "list";
        positional.push(next());
        break;
      case "/RESTOREFILE":
      case "/RESTOREDIRECTORY":
        command = "restore";
        positional.push(next());
        break;
      case "/RESTORETO":
        flags.push("--to", next());
        break;
      case "/CATFILE":
        command = "cat";
        positional.push(next());
        break;
      case "/RECURSIVE":
        flags.push("--recursive");
        break;
      case "/XML":
        flags.push("--json");
        break;
      default:
        positional.push(a);
    }
  }
  return [node, script, ...(command ? [command] : []), ...positional, ...flags];
}
