import type { FastifyInstance } from "fastify";
import type { AgentMetrics } from "./AgentMetrics.js";

/** Serves `GET /metrics` (and HEAD): the exposition of `metrics`, never cached. */
export function registerMetricsRoute(app: FastifyInstance, metrics: AgentMetrics): void {
  app.get("/metrics", async (_request, reply) => {
    const body = await metrics.text();
    return reply.header("content-type", metrics.contentType).header("cache-control", "no-store").send(body);
  });
}
