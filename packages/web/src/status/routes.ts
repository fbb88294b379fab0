import type { ServerResponse } from "node:http";
import { posix } from "node:path";
import type { FastifyInstance } from "fastify";
import { isUnder, isV2, type Runtime } from "@rtbackup/core";
import { StatusFeed, type FeedEvent } from "./StatusFeed.js";

/** How often a listening page gets the agent's stats. */
const STATS_EVERY_MS = 500;
/** Pages listening at once; more are refused (each holds a connection and a timer's work). */
const MAX_STREAMS = 32;
/** A page that reads this far behind is dropped rather than buffered for. */
const MAX_BACKLOG = 1 << 20;

/** An HTTP error with a message for the page. */
function refuse(statusCode: number, message: string): Error {
  return Object.assign(new Error(message), { statusCode });
}

/** `value` as a list of normalised absolute paths (at most `max`), or a 400 naming `name`. */
function absolutePaths(value: unknown, name: string, max: number): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > max) throw refuse(400, `${name}: expected 1 to ${max} absolute paths`);
  for (const p of value) {
    const normal = typeof p === "string" && p.startsWith("/") && (p === "/" || (posix.normalize(p) === p && !p.endsWith("/")));
    if (!normal || p.includes("\0") || Buffer.byteLength(p) > 4096)
      throw refuse(400, `${name}: ${JSON.stringify(p)?.slice(0, 80)} is not a normalised absolute path`);
  }
  return value as string[];
}

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
  app.post("/api/pause", async () => {
    const wasPaused = runtime.pipeline.paused;
    runtime.pipeline.pause();
    if (!wasPaused) feed.post({ event: "paused", data: {} });
    return { paused: true, wasPaused };
  });
  app.post<{ Body: { discard?: unknown } | undefined }>("/api/unpause", async (request) => {
    const wasPaused = runtime.pipeline.paused;
    const { processed, discarded } = runtime.pipeline.unpause({ discard: request.body?.discard === true });
    if (wasPaused) feed.post({ event: "unpaused", data: { processed, discarded } });
    return { paused: false, wasPaused, processed, discarded };
  });
  app.post<{ Body: { roots?: unknown } | undefined }>("/api/rescan", async (request) => {
    const requested = request.body?.roots === undefined ? undefined : absolutePaths(request.body.roots, "roots", 100);
    if (requested) {
      // A rescan walks only inside what is backed up: the page cannot point the agent at the rest of the system.
      const roots = await runtime.roots();
      const outside = requested.find((r) => !roots.some((root) => isUnder(r, root)));
      if (outside !== undefined) throw refuse(400, `roots: ${outside} is not under a backup root`);
    }
    const alreadyRunning = runtime.scanStatus.running;
    runtime.requestScan("request", requested);
    return { requested: true, alreadyRunning };
  });
  app.post<{ Body: { paths?: unknown } | undefined }>("/api/check", async (request) => {
    const paths = absolutePaths(request.body?.paths, "paths", 10_000);
    for (const path of paths) runtime.submit({ type: "update", path });
    return { submitted: paths.length, paused: runtime.pipeline.paused };
  });
}
