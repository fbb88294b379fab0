import { resolve } from "node:path";
import { BridgeClient, BridgeRequestError, ConfigError, messageOf } from "@rtbackup/core";
import { ConsoleOutput, type OutputMode } from "../console/ConsoleOutput.js";
import { formatNotification, formatScanStatus, formatStats } from "../console/formatHuman.js";
import { resolveEndpoint } from "../console/resolveEndpoint.js";

/** Options of `rtb console`. */
export interface ConsoleOptions {
  config?: string;
  connect?: string;
  tokenFile?: string;
  json?: boolean;
  xml?: boolean;
  repeat?: boolean;
  uploads?: boolean;
  discard?: boolean;
  follow?: boolean;
  /** Milliseconds between repeated stats. */
  interval?: number;
  /** Stop after this many repeated stats or notifications (default: until interrupted). */
  count?: number;
}

/** Picks the console's options out of the parsed command line. */
export function consoleOptionsFrom(opts: Record<string, unknown>): ConsoleOptions {
  const out: ConsoleOptions = {};
  const str = (k: string) => (opts[k] === undefined || opts[k] === true ? undefined : String(opts[k]));
  const config = str("config");
  const connect = str("connect");
  const tokenFile = str("token-file");
  if (config !== undefined) out.config = config;
  if (connect !== undefined) out.connect = connect;
  if (tokenFile !== undefined) out.tokenFile = tokenFile;
  for (const k of ["json", "xml", "repeat", "uploads", "discard", "follow"] as const) if (opts[k]) out[k] = true;
  if (opts["interval"] !== undefined) out.interval = opts["interval"] as number;
  if (opts["count"] !== undefined) out.count = opts["count"] as number;
  return out;
}

/** The subcommands of `rtb console`. */
export const CONSOLE_SUBCOMMANDS = ["stats", "check", "pause", "unpause", "rescan", "rescan-status", "cancel-rescan", "watch"] as const;

function positiveInteger(value: unknown, option: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(option, "expected a positive integer");
  return n;
}

/** Resolves on SIGINT/SIGTERM (so repeated output can end its document), or never. */
function interrupted(): { promise: Promise<void>; dispose: () => void } {
  let done!: () => void;
  const promise = new Promise<void>((r) => (done = r));
  process.once("SIGINT", done);
  process.once("SIGTERM", done);
  return { promise, dispose: () => (process.off("SIGINT", done), process.off("SIGTERM", done)) };
}

/**
 * `rtb console <subcommand>`: talks to a running daemon over its bridge (DQD.RealTimeBackup.Console). Exit codes:
 * 0 done, 1 the daemon refused or could not be reached, 2 bad usage.
 */
export async function consoleCommand(subcommand: string | undefined, args: string[], options: ConsoleOptions): Promise<number> {
  if (!subcommand || !(CONSOLE_SUBCOMMANDS as readonly string[]).includes(subcommand)) {
    throw new ConfigError("rtb console", `expected one of ${CONSOLE_SUBCOMMANDS.join(", ")}${subcommand ? ` (got "${subcommand}")` : ""}`);
  }
  if (options.json && options.xml) throw new ConfigError("rtb console", "--json and --xml exclude each other");
  const interval = positiveInteger(options.interval, "--interval") ?? 1000;
  const count = positiveInteger(options.count, "--count");
  if (subcommand === "check" && args.length === 0) throw new ConfigError("rtb console check", "expected one or more paths");
  if (subcommand !== "check" && args.length) throw new ConfigError(`rtb console ${subcommand}`, `unexpected argument "${args[0]}"`);
  const mode: OutputMode = options.json ? "json" : options.xml ? "xml" : "human";
  const out = new ConsoleOutput(mode);
  const endpoint = await resolveEndpoint(options);
  out.begin();
  let client: BridgeClient | undefined;
  try {
    client = await BridgeClient.connect(endpoint);
    await run({ client, options, out, interval, count }, subcommand, args);
    return 0;
  } catch (err) {
    out.error(messageOf(err), err instanceof BridgeRequestError ? err.code : (err as NodeJS.ErrnoException).code);
    return 1;
  } finally {
    client?.close();
    out.end();
  }
}

/** Runs one subcommand against the daemon. */
async function run(session: Session, sub: string, args: string[]): Promise<void> {
  const { client, out, options } = session;
  switch (sub) {
    case "stats":
      return repeatStats(session);
    case "check": {
      const paths = args.map((a) => resolve(a));
      const r = await client.request("check", { paths });
      for (const path of paths) out.item("PathSubmitted", { path }, () => `submitted ${path}`);
      if (r.paused && out.mode === "human") process.stderr.write("rtb: monitoring is paused: the paths wait until it is unpaused\n");
      return;
    }
    case "pause": {
      const r = await client.request("pause");
      out.item("MonitorPaused", r, () => (r.wasPaused ? "monitoring was already paused" : "monitoring paused"));
      return;
    }
    case "unpause": {
      const r = await client.request("unpause", { discard: Boolean(options.discard) });
      out.item("MonitorUnpaused", r, () =>
        r.wasPaused ? `monitoring unpaused: ${r.processed} buffered paths processed, ${r.discarded} discarded` : "monitoring was not paused",
      );
      return;
    }
    case "rescan": {
      const r = await client.request("rescan");
      out.item("RescanRequested", r, () => (r.alreadyRunning ? `a rescan is running; rescan #${r.number} queued after it` : `rescan #${r.number} requested`));
      return;
    }
    case "rescan-status":
      return followRescan(session);
    case "cancel-rescan": {
      const r = await client.request("cancelRescan");
      out.item("RescanCancelled", r, () => (r.cancelled ? "rescan cancelled" : "no rescan was running"));
      return;
    }
    case "watch":
      return watchNotifications(session);
  }
}

/** What a subcommand works with. */
interface Session {
  readonly client: BridgeClient;
  readonly options: ConsoleOptions;
  readonly out: ConsoleOutput;
  /** Milliseconds between updates (`--interval`). */
  readonly interval: number;
  /** Stop after this many outputs (`--count`). */
  readonly count: number | undefined;
}

/** `stats`: once, or with `--repeat` every interval until interrupted or `--count` outputs. */
async function repeatStats({ client, options, out, interval, count }: Session): Promise<void> {
  const withUploads = Boolean(options.uploads);
  const stop = interrupted();
  try {
    for (let i = 0; ; i++) {
      const s = await client.request("stats", { includeUploads: withUploads });
      out.item("Statistics", s, () => formatStats(s, withUploads) + (options.repeat ? "\n" : ""));
      if (!options.repeat || (count !== undefined && i + 1 >= count)) return;
      let timer: NodeJS.Timeout | undefined;
      const stopped = await Promise.race([stop.promise.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), interval)))]);
      clearTimeout(timer);
      if (stopped) return;
    }
  } finally {
    stop.dispose();
  }
}

/** `rescan-status`: once, or with `--follow` until the rescan ends or the user interrupts. */
async function followRescan({ client, options, out, interval }: Session): Promise<void> {
  let s = await client.request("rescanStatus");
  out.item("RescanStatus", s, () => formatScanStatus(s));
  if (!options.follow) return;
  const stop = interrupted();
  try {
    while (s.running) {
      const next = client.request("rescanStatus", { wait: true, timeoutMs: interval });
      const r = await Promise.race([next, stop.promise.then(() => undefined)]);
      if (!r) return;
      s = r;
      out.item("RescanStatus", s, () => formatScanStatus(s));
    }
  } finally {
    stop.dispose();
  }
  return;
}

/** `watch`: prints notifications until interrupted, `--count` of them, or the daemon closes the connection. */
async function watchNotifications({ client, out, count }: Session): Promise<void> {
  const stop = interrupted();
  let seen = 0;
  let reachedCount!: () => void;
  const enough = new Promise<void>((r) => (reachedCount = r));
  const closed = new Promise<Error | undefined>((r) => client.onClose(r));
  client.onNotification((n) => {
    out.item("Notification", n, () => formatNotification(n));
    if (count !== undefined && ++seen >= count) reachedCount();
  });
  try {
    const r = await client.request("subscribe");
    process.stderr.write(`rtb: watching notifications after #${r.lastSeq} (Ctrl-C to stop)\n`);
    const end = await Promise.race([stop.promise, enough, closed]);
    if (end instanceof Error) throw end;
  } finally {
    stop.dispose();
  }
  return;
}
