import { BridgeServer, ConfigError, exitStatusOf, messageOf, type Engine, type Logger, type Parameters, type Runtime } from "@rtbackup/core";
import { createEngine, loadCliConfig, type CommonOptions } from "../context.js";
import { prepareAgentWeb, startAgentWeb } from "./web.js";

/** Options of `rtb run`. */
export interface RunOptions extends CommonOptions {
  initialBackup?: boolean;
}

/**
 * `rtb run`: the daemon. Starts the engine (a bad config or an unreachable store fails here, before anything runs),
 * catches up with what changed while it was down (or runs the initial backup with `--initial-backup`, DQD's
 * /INITIALBACKUPTHENMONITOR), then follows the sources and rescans every PeriodicRescanInterval. SIGTERM or SIGINT
 * drains in-flight work and commits before exiting; a second signal exits at once.
 */
export async function runCommand(options: RunOptions): Promise<number> {
  const loaded = await loadCliConfig(options, "daemon");
  for (const w of loaded.warnings) process.stderr.write(`rtb: warning: ${w}\n`);
  const web = await prepareAgentWeb(loaded);
  const { config } = web;
  const engine = createEngine(config, "daemon");
  const log = engine.getLogger("daemon");
  const runtime = await engine.start();
  const roots = await runtime.roots();
  const sources = engine.plugins.map((p) => p.name).join(", ");
  log.info(
    `rtb ${process.pid} monitoring ${roots.length ? roots.join(", ") : "(no roots)"}; uploading to ${runtime.storage.description}${config.parameters.repositoryPrefix ? ` prefix ${config.parameters.repositoryPrefix}` : ""}; plugins: ${sources}; sources: ${engine.sourceHealth.summary()}; config: ${config.source}`,
  );
  const bridge = await startBridge(engine, runtime, config.parameters);
  const server = await startAgentWeb(engine, runtime, web);
  runtime.startPeriodicScans({ initial: Boolean(options.initialBackup) });
  return untilStopped(engine, runtime, [bridge, server], log);
}

/**
 * The bridge is how operators reach the daemon; a bad IPC setting is fatal (the engine is stopped and the error
 * rethrown), a socket that cannot be made is not (logged; undefined).
 */
async function startBridge(engine: Engine, runtime: Runtime, parameters: Parameters): Promise<BridgeServer | undefined> {
  const log = engine.getLogger("daemon");
  try {
    const group = parameters.ipcSocketGroup || process.env.RTB_BRIDGE_GROUP;
    const bridge = new BridgeServer(runtime, group ? { group } : {});
    await bridge.listen();
    const where = [bridge.socketPath, bridge.tcpPort === undefined ? undefined : `${parameters.ipcBindTCPAddress}:${bridge.tcpPort}`].filter(Boolean);
    if (where.length) log.info(`bridge listening on ${where.join(" and ")}`);
    return bridge;
  } catch (err) {
    if (err instanceof ConfigError) {
      await engine.stop({ drain: false });
      throw err;
    }
    log.error(`bridge not started (rtb console will not reach this daemon): ${messageOf(err)}`);
    return undefined;
  }
}

/**
 * Runs until SIGTERM or SIGINT (drain, commit, exit 0; a second signal exits at once) or until committing halts
 * (a damaged index: stop without draining, exit with the error's status). Resolves with the exit status.
 */
function untilStopped(engine: Engine, runtime: Runtime, servers: ({ close(): Promise<void> } | undefined)[], log: Logger): Promise<number> {
  const closeServers = () => Promise.all(servers.map((s) => s?.close()));
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn(`${signal} again: exiting now without draining`);
        process.exit(130);
      }
      stopping = true;
      log.info(`${signal}: finishing in-flight work and committing (send again to exit at once)`);
      closeServers()
        .then(() => engine.stop())
        .then(
          () => {
            log.info("stopped");
            resolve(0);
          },
          (err: unknown) => {
            log.error("stopping failed", err);
            resolve(1);
          },
        );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    // A damaged remote index stops committing; the daemon stops too rather than watch changes it cannot record.
    void runtime.halted.then((error) => {
      if (stopping) return;
      stopping = true;
      log.error(`stopping: ${error.message}`);
      process.stderr.write(`rtb: ${error.message}\n`);
      const code = exitStatusOf(error);
      closeServers()
        .then(() => engine.stop({ drain: false }))
        .catch((err: unknown) => log.error("stopping failed", err))
        .then(() => resolve(code));
    });
  });
}
