import { ConfigError, findExecutable, type BackupPlugin, type Engine, type Logger, type StabilityRequest, type WriterSet } from "@rtbackup/core";
import { LsofWriterCheck, type LsofCheckOptions } from "./LsofWriterCheck.js";

const PLUGIN_NAME = "LsofStabilityPlugin";

/**
 * The lsof stability check (DQD's way, with its bugs fixed): answers the `stability` hook by running lsof on the
 * candidate files ({@link LsofWriterCheck}). At `initialize` it checks that the binary can be run, so a wrong
 * `LSOFBinaryPath` stops the start with a message that names it.
 */
export class LsofStabilityPlugin implements BackupPlugin {
  readonly name = PLUGIN_NAME;
  /** The check this plugin runs; the pipeline, tests and benchmarks may call it directly. */
  readonly check: LsofWriterCheck;

  /** @throws ConfigError when an option is invalid (see {@link LsofCheckOptions}). */
  constructor(options?: LsofCheckOptions) {
    this.check = new LsofWriterCheck(options, PLUGIN_NAME);
  }

  apply(engine: Engine): void {
    engine.hooks.initialize.tapPromise(PLUGIN_NAME, () => this.#verifyBinary());
    engine.hooks.stability.tapPromise(PLUGIN_NAME, (request) => this.#writers(request, engine.getLogger(PLUGIN_NAME)));
  }

  async #verifyBinary(): Promise<void> {
    const binary = this.check.binaryPath;
    const found = await findExecutable(binary);
    if (found.path !== undefined) return;
    throw new ConfigError(
      "lsofBinaryPath (LSOFBinaryPath)",
      `cannot run lsof at "${binary}" (${found.problem}): install lsof (Debian: apt-get install lsof) or set LSOFBinaryPath to where it is`,
    );
  }

  async #writers(request: StabilityRequest, log: Logger): Promise<WriterSet> {
    const started = performance.now();
    const writers = await this.check.writers(request.paths);
    log.debug(`${request.paths.length} candidates, ${writers.size} open for writing (lsof, ${(performance.now() - started).toFixed(1)} ms)`);
    return writers;
  }
}
