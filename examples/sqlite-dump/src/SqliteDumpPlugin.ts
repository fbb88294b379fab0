import { spawn } from "node:child_process";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { PluginOptions, commandKind, durationRangeKind, pathKind, type BackupPlugin, type Engine, type ScanInfo } from "@rtbackup/core";

const PLUGIN_NAME = "SqliteDumpPlugin";

/** Options of {@link SqliteDumpPlugin}. */
export interface SqliteDumpOptions {
  /** Absolute path of the SQLite database file to dump. */
  readonly database: string;
  /** Absolute path of the dump file (SQL text); put it under one of the backup roots. */
  readonly output: string;
  /** The sqlite3 command-line tool. Default `sqlite3` (found on PATH). */
  readonly sqlite3Path: string;
  /** Give up on a dump that takes longer than this (ms, or an xs:duration string such as `PT10M`). Default 600000. */
  readonly timeoutMs: number;
}

const KNOWN = ["database", "output", "sqlite3Path", "timeoutMs"];

/**
 * Checks raw options (from a config file or code) with core's {@link PluginOptions}; a bad value throws a
 * ConfigError naming `SqliteDumpPlugin.options.<option>`.
 */
export function parseSqliteDumpOptions(raw: unknown): SqliteDumpOptions {
  const o = PluginOptions.read(PLUGIN_NAME, raw, KNOWN);
  const database = o.required("database", pathKind(), "an absolute path");
  const output = o.required("output", pathKind(), "an absolute path");
  if (output === database) o.fail("output", "must differ from database");
  return {
    database,
    output,
    sqlite3Path: o.get("sqlite3Path", commandKind, "sqlite3"),
    timeoutMs: o.get("timeoutMs", durationRangeKind(1), 600_000),
  };
}

/**
 * Dumps an SQLite database to an SQL text file before every scan (initial backup, start-up catch-up, periodic and
 * requested rescans), so the scan that follows backs up a consistent dump instead of a database file caught
 * between two writes. `sqlite3 .dump` reads inside one transaction; the dump is written to a temporary name and
 * renamed into place, so a scan never sees half a dump. A failed dump fails the scan (the error names this plugin).
 */
export class SqliteDumpPlugin implements BackupPlugin {
  readonly name = PLUGIN_NAME;
  readonly options: SqliteDumpOptions;

  constructor(options: unknown) {
    this.options = parseSqliteDumpOptions(options);
  }

  apply(engine: Engine): void {
    const log = engine.getLogger(PLUGIN_NAME);
    engine.hooks.beforeScan.tapPromise(PLUGIN_NAME, async (scan: ScanInfo) => {
      const started = Date.now();
      await this.dump();
      log.debug(`dumped ${this.options.database} to ${this.options.output} before the ${scan.reason} scan in ${Date.now() - started} ms`);
    });
  }

  /** Writes a fresh dump to `output` (through a temporary file in the same directory). */
  async dump(): Promise<void> {
    const { database, output, sqlite3Path, timeoutMs } = this.options;
    const temp = join(dirname(output), `.${basename(output)}.${process.pid}.tmp`);
    const file = await open(temp, "w", 0o600);
    try {
      await run(sqlite3Path, ["-batch", "-bail", "-readonly", database, ".dump"], file.fd, timeoutMs);
      await file.sync();
      await file.close();
      await rename(temp, output);
    } catch (err) {
      await file.close().catch(() => undefined);
      await rm(temp, { force: true });
      throw err;
    }
  }
}

function run(command: string, args: string[], stdoutFd: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", stdoutFd, "pipe"], timeout: timeoutMs });
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-2000)));
    child.on("error", (err) => reject(new Error(`cannot run ${command}: ${err.message}`)));
    child.on("close", (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} .dump failed (${signal ? `signal ${signal}` : `exit ${code}`}): ${stderr.trim()}`));
    });
  });
}
