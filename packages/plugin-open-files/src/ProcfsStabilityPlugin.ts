import type { BackupPlugin, Engine, Logger, StabilityRequest, WriterSet } from "@rtbackup/core";
import { ProcfsWriterCheck, type ProcfsCheckOptions } from "./ProcfsWriterCheck.js";

const PLUGIN_NAME = "ProcfsStabilityPlugin";

/**
 * The default stability check: answers the `stability` hook from a /proc scan ({@link ProcfsWriterCheck}): a file
 * is unstable while some process holds it open write-only or read-write, whatever path it was opened by.
 */
export class ProcfsStabilityPlugin implements BackupPlugin {
  readonly name = PLUGIN_NAME;
  /** The check this plugin runs; the pipeline, tests and benchmarks may call it directly. */
  readonly check: ProcfsWriterCheck;
  #warnedDenied = false;

  /** @throws ConfigError when an option is invalid (see {@link ProcfsCheckOptions}). */
  constructor(options?: ProcfsCheckOptions) {
    this.check = new ProcfsWriterCheck(options, PLUGIN_NAME);
  }

  apply(engine: Engine): void {
    engine.hooks.stability.tapPromise(PLUGIN_NAME, (request) => this.#writers(request, engine.getLogger(PLUGIN_NAME)));
  }

  async #writers(request: StabilityRequest, log: Logger): Promise<WriterSet> {
    const writers = await this.check.writers(request.paths);
    const scan = this.check.lastScan;
    log.debug(
      `${request.paths.length} candidates, ${writers.size} open for writing; scanned ${scan.processes} processes, ` +
        `${scan.fds} descriptors in ${scan.durationMs.toFixed(1)} ms (vanished ${scan.vanished}, denied ${scan.denied})`,
    );
    if (scan.denied > 0 && !this.#warnedDenied) {
      this.#warnedDenied = true;
      const why =
        process.getuid?.() === 0
          ? "they are protected even from root (another user namespace, or a security module)"
          : "run the agent as root to see every process";
      log.warn(
        `could not read the open files of ${scan.denied} process(es) (permission denied): files they hold open for ` +
          `writing are not seen; ${why}. Warned once; the count is in the check's stats.`,
      );
    }
    return writers;
  }
}
