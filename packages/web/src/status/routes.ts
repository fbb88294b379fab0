import type { ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import { BridgeRequestError, executeBridgeRequest, isV2, parseBridgeRequest, type BridgeRequestContext, type Runtime } from "@rtbackup/core";
import { StatusFeed, type FeedEvent } from "./StatusFeed.js";

/** How often a listening page gets the agent's stats. */
const STATS_EVERY_MS = 500;
/** Pages listening at once; more are refused (each holds a connection and a timer's work). */
const MAX_STREAMS = 32;
/** A page that reads this far behind is dropped rather than buffered for. */
const MAX_BACKLOG = 1 << 20;

/** Which repository the agent writes: its id, format and whether it is encrypted. */
function repositoryOf(runtime: Runtime): { id: string; format: number; encrypted: boolean; prefix: string } {
  const repo = runtime.repository;
  const v2 = isV2(repo);
  return { id: repo.config.id, format: v2 ? 2 : 1, encrypted: v2 && repo.cipher.encrypted, prefix: runtime.parameters.repositoryPrefix };
}

/** The agent's state for the page: stats, the repository, last commits and failures. */
function statusOf(runtime: Runtime, feed: StatusFeed): unknown {
  return {
    agent: runtime.stats({ includeUploads: true }),
    repository: repositoryOf(runtime),
    commits: feed.commits,
    failures: feed.failures,
  };
}

/** What the bridge's request code needs, for the page: its notifications go to the page's event streams. */
function bridgeContext(runtime: Runtime, feed: StatusFeed): BridgeRequestContext {
  return {
    runtime,
    scanNumber: () => feed.scans,
    lastSeq: () => 0,
    notify: ({ kind, ...data }) => feed.post({ event: kind, data }),
    nextScanEvent: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

/**
 * Serves one event stream on `res`: the stats now and every 500 ms, and each of the feed's events. It ends (once)
 * when its response closes (the page went), when the page falls {@link MAX_BACKLOG} behind, or when the server
 * ends every stream in `streams`.
 */
function openStream(res: ServerResponse, runtime: Runtime, feed: StatusFeed, streams: Set<() => void>): void {
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no" });
  const send = (e: FeedEvent) => {
    if (res.writableLength > MAX_BACKLOG) return end();
    res.write(`event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
  };
  const timer = setInterval(() => send({ event: "status", data: statusOf(runtime, feed) }), STATS_EVERY_MS);
  const stop = feed.listen(send);
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    clearInterval(timer);
    stop();
    streams.delete(end);
    res.end();
  };
  streams.add(end);
  res.once("close", end);
  send({ event: "status", data: statusOf(runtime, feed) });
}

/**
 * The status page's API over the running agent: `GET /api/status`, the live stream `GET /api/events` (SSE: `status`
 * every 500 ms, and `commit`, `failure`, `uploadStarted`, `uploaded`, `scanStarted`, `scanFinished`, `paused`,
 * `unpaused` as they happen), and the console's actions `POST /api/pause`, `/api/unpause`, `/api/rescan` and
 * `/api/check`.
 */
export function registerStatusRoutes(app: FastifyInstance, runtime: Runtime): void {
  const feed = new StatusFeed(runtime);
  const streams = new Set<() => void>();
  app.get("/api/status", async () => statusOf(runtime, feed));
  app.get("/api/events", (request, reply) => {
    if (streams.size >= MAX_STREAMS) return reply.status(503).send({ error: `at most ${MAX_STREAMS} pages may listen at once` });
    reply.hijack();
    openStream(reply.raw, runtime, feed, streams);
  });
  app.addHook("preClose", async () => {
    for (const end of [...streams]) end();
  });
  // The console's actions, checked and carried out by the bridge's own code: the same rules (normalised absolute
  // paths, a rescan only under a backup root) and the same answers as `rtb console`.
  const context = bridgeContext(runtime, feed);
  for (const type of ["pause", "unpause", "rescan", "check"] as const) {
    app.post<{ Body: Record<string, unknown> | undefined }>(`/api/${type}`, async (request) => {
      const body = request.body;
      if (body !== undefined && (typeof body !== "object" || body === null || Array.isArray(body)))
        throw Object.assign(new Error("expected a JSON object"), { statusCode: 400 });
      try {
        return await executeBridgeRequest(context, parseBridgeRequest({ ...body, type }));
      } catch (err) {
        if (err instanceof BridgeRequestError && err.code === "BAD_REQUEST") throw Object.assign(new Error(err.message), { statusCode: 400 });
        throw err;
      }
    });
  }
}
