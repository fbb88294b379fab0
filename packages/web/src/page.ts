import { readFileSync } from "node:fs";
import type { FastifyInstance } from "fastify";

/** The page's files (public/), read once: the page needs nothing from the network. */
const FILES: Record<string, string> = {
  "/": "index.html",
  "/app.js": "app.js",
  "/style.css": "style.css",
};

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};

/** Serves the page: a fixed set of files, each under its own route (nothing a URL names is looked up on disk). */
export function registerPage(app: FastifyInstance): void {
  const root = new URL("../public/", import.meta.url);
  for (const [route, file] of Object.entries(FILES)) {
    const body = readFileSync(new URL(file, root));
    const type = TYPES[file.split(".").pop()!]!;
    app.get(route, async (_request, reply) =>
      reply
        .type(type)
        .header("cache-control", "no-cache")
        .header("x-content-type-options", "nosniff")
        .header("content-security-policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
        .send(body),
    );
  }
}
