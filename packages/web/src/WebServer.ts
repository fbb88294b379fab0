import Fastify, { type FastifyInstance } from "fastify";
import { isIP } from "node:net";
import { BackupError, ConfigError, messageOf, type AnyRepository, type Logger, type Runtime } from "@rtbackup/core";
import { registerAuth } from "./auth.js";
import { registerBrowseRoutes } from "./browse/index.js";
import { registerMetricsRoute, type AgentMetrics } from "./metrics/index.js";
import { registerPage } from "./page.js";
import { registerStatusRoutes } from "./status/routes.js";

/** Options of {@link WebServer.start}. */
export interface WebServerOptions {
  /** Address to listen on. Default 127.0.0.1 (loopback only). */
  address?: string;
  /** TCP port; 0 picks a free one. Default 0. */
  port?: number;
  /**
   * The secret every `/api/` request must carry (the `rtb_token` cookie `/login?token=` sets, or
   * `Authorization: Bearer <token>`). Without it the page loads, but shows nothing and does nothing.
   */
  token: string;
  /** The running agent: status, live events, pause, unpause, rescan, check. Absent for `rtb web` on a store. */
  runtime?: Runtime;
  /** The repository the restore browser reads (opened when first needed, then kept). Absent: no browser. */
  repository?: () => Promise<AnyRepository>;
  /** The local history cache the browser's versions and commits read through (`cacheDirectoryOf(parameters)`). */
  historyCacheDirectory?: string | false;
  /** Serve `/metrics` from these (the page itself may be off: see `page`). */
  metrics?: AgentMetrics;
  /** Serve the page and `/api/`. Default true; false serves `/metrics` alone. */
  page?: boolean;
  /** Where the server logs. */
  log: Logger;
}

/**
 * The agent's web server (fastify): the status page and restore browser (`/`, `/api/…`, behind the token) and the
 * Prometheus metrics (`/metrics`). It listens on loopback unless an address is given.
 */
export class WebServer {
  readonly app: FastifyInstance;
  readonly #log: Logger;
  #url: string | undefined;

  private constructor(app: FastifyInstance, log: Logger) {
    this.app = app;
    this.#log = log;
  }

  /** Builds the server (without listening): for tests that inject requests. */
  static build(options: WebServerOptions): WebServer {
    if (options.token.length < 16) throw new ConfigError("web token", "expected at least 16 characters");
    const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
    const server = new WebServer(app, options.log);
    if (options.page !== false) {
      registerAuth(app, options.token);
      registerPage(app);
      if (options.runtime) registerStatusRoutes(app, options.runtime);
      if (options.repository) {
        const cache = options.historyCacheDirectory === undefined ? {} : { historyCacheDirectory: options.historyCacheDirectory };
        registerBrowseRoutes(app, { repository: options.repository, log: options.log, ...cache });
      }
    }
    if (options.metrics) registerMetricsRoute(app, options.metrics);
    app.setErrorHandler((err: Error & { statusCode?: number }, request, reply) => {
      const status = err.statusCode ?? 500;
      if (status >= 500) options.log.error(`${request.method} ${request.url.split("?")[0]}: ${messageOf(err)}`);
      void reply.status(status).send({ error: status < 500 || err instanceof BackupError ? messageOf(err) : "internal error (see the agent's log)" });
    });
    return server;
  }

  /** Builds the server and listens; resolves once it accepts connections. */
  static async start(options: WebServerOptions): Promise<WebServer> {
    const address = options.address ?? "127.0.0.1";
    if (isIP(address) === 0) throw new ConfigError("web address", `expected an IP address, got "${address}"`);
    const port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError("web port", `expected 0 to 65535, got ${port}`);
    const server = WebServer.build(options);
    await server.app.listen({ host: address, port });
    const bound = server.app.server.address();
    const host = isIP(address) === 6 ? `[${address}]` : address;
    server.#url = `http://${host}:${typeof bound === "object" && bound ? bound.port : port}`;
    return server;
  }

  /** `http://address:port` once listening. */
  get url(): string {
    if (!this.#url) throw new Error("the web server is not listening");
    return this.#url;
  }

  /** Stops listening and ends live event streams. */
  async close(): Promise<void> {
    await this.app.close();
    this.#log.debug("web server closed");
  }
}
