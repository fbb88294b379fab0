import type { Clock } from "../clock.js";
import type { Parameters } from "../config/Parameters.js";
import type { EngineHooks } from "../EngineHooks.js";
import type { Logger } from "../logger.js";
import type { WorkTracker } from "./WorkTracker.js";

/**
 * What every stage of the pipeline is given: the hooks it calls, the parameters, the one clock all timers and
 * retries run on (tests drive it), and named loggers. Stages never see the engine, the runtime or each other's
 * internals; the pipeline connects them.
 */
export interface StageContext {
  readonly hooks: EngineHooks;
  readonly parameters: Parameters;
  readonly clock: Clock;
  /** The asynchronous work in flight, so tests on a manual clock know when only the clock can move things. */
  readonly work: WorkTracker;
  logger(name: string): Logger;
}
