import { randomBytes } from "node:crypto";
import { mkdir, readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ConfigError, cacheDirectoryOf, isErrno, messageOf, writePrivateFile, type Engine, type Parameters, type Runtime } from "@rtbackup/core";
import type { AgentMetrics, WebServer } from "@rtbackup/web";

/** The web package, loaded only by the commands that serve (fastify and prom-client cost every other command ~0.2 s). */
const webPackage = () => import("@rtbackup/web");
import { loadCliConfig, openRepositoryReadOnly, type CommonOptions, type LoadedConfig } from "../context.js";

/** The file of the page's token: WebTokenFile, else `<IPCPath>/web-token`. */
export function webTokenFileOf(parameters: Parameters): string {
  return parameters.webTokenFile || join(parameters.ipcPath, "web-token");
}

/**
 * The page's token from `file`; a new random one is written there (mode 0600, created atomically) when there is
 * none. A file that others may read, or that holds too short a token, is refused: the token lets its holder restore
 * any file into any directory.
 */
export async function webToken(file: string): Promise<string> {
  try {
    const info = await stat(file);
    if ((info.mode & 0o077) !== 0)
      throw new ConfigError("WebTokenFile", `${file} may be read by others (mode ${(info.mode & 0o777).toString(8)}): chmod 600 it`);
    const token = (await readFile(file, "utf8")).trim();
    if (token.length < 16) throw new ConfigError("WebTokenFile", `${file} holds ${token.length} characters: a token needs at least 16`);
    return token;
  } catch (err) {
    if (!isErrno(err, "ENOENT")) throw err;
  }
  const token = randomBytes(24).toString("base64url");
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await writePrivateFile(file, `${token}\n`, 0o600);
  } catch (err) {
    throw new ConfigError("WebTokenFile", `cannot make the token file ${file}: ${messageOf(err)}`);
  }
  return token;
}

/** What the daemon needs for its web server, settled before the engine starts (a bad token file stops it there). */
export interface AgentWeb {
  config: LoadedConfig;
  metrics: AgentMetrics | undefined;
  token: string | undefined;
}

/**
 * Prepares the daemon's web server: the config with the metrics plugin added (MetricsEnabled: it must be applied
 * before start) and the page's token (WebEnabled: read, or made, before anything starts).
 */
export async function prepareAgentWeb(config: LoadedConfig): Promise<AgentWeb> {
  const p = config.parameters;
  const token = p.webEnabled ? await webToken(webTokenFileOf(p)) : undefined;
  if (!p.metricsEnabled) return { config, metrics: undefined, token };
  const metrics = new (await webPackage()).AgentMetrics();
  return { config: { ...config, plugins: [...config.plugins, metrics.plugin] }, metrics, token };
}

/**
 * Starts the daemon's web server when WebEnabled or MetricsEnabled. A server that cannot listen (the port is taken)
 * is logged and the agent backs up without it.
 */
export async function startAgentWeb(engine: Engine, runtime: Runtime, web: AgentWeb): Promise<WebServer | undefined> {
  const p = runtime.parameters;
  const { metrics, token } = web;
  if (!token && !metrics) return undefined;
  const log = engine.getLogger("web");
  metrics?.attach(runtime);
  const repository = runtime.repository;
  try {
    const { WebServer } = await webPackage();
    const server = await WebServer.start({
      address: p.webBindAddress,
      port: p.webPort,
      // With the page off, /api/ is not served: this token guards nothing, and no one learns it.
      token: token ?? randomBytes(24).toString("base64url"),
      runtime,
      repository: async () => repository,
      historyCacheDirectory: cacheDirectoryOf(p),
      page: token !== undefined,
      log,
      ...(metrics ? { metrics } : {}),
    });
    const page = token ? `page at ${server.url}/ (sign in with the token in ${webTokenFileOf(p)})` : undefined;
    log.info(`web: ${[page, metrics ? `metrics at ${server.url}/metrics` : undefined].filter(Boolean).join("; ")}`);
    return server;
  } catch (err) {
    log.error(`web server not started (the agent goes on without it): ${messageOf(err)}`);
    return undefined;
  }
}

/** Options of `rtb web`. */
export interface WebOptions extends CommonOptions {
  address?: string;
  port?: number | string;
  "token-file"?: string;
}

/**
 * `rtb web`: the restore browser on a store, without a daemon. It listens on loopback (or `--address`), prints the
 * address to sign in with (the token in it: a fresh one per run unless `--token-file` names one), and runs until
 * interrupted.
 */
export async function webCommand(options: WebOptions): Promise<number> {
  const config = await loadCliConfig(options, "restore");
  const { engine, repository } = await openRepositoryReadOnly(config);
  const log = engine.getLogger("web");
  const token = options["token-file"] ? await webToken(options["token-file"]) : randomBytes(24).toString("base64url");
  const port = options.port === undefined ? config.parameters.webPort : Number(options.port);
  const { WebServer } = await webPackage();
  const server = await WebServer.start({
    address: options.address ?? config.parameters.webBindAddress,
    port,
    token,
    repository: async () => repository,
    historyCacheDirectory: cacheDirectoryOf(config.parameters),
    log,
  });
  process.stdout.write(`restore browser for ${repository.storage.description}: ${server.url}/login?token=${token}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await server.close();
  await engine.stop().catch(() => undefined);
  return 0;
}
