import type { FastifyInstance } from "fastify";
import { BrowseContext, type BrowseSource } from "./BrowseContext.js";
import { registerHistoryRoutes } from "./historyRoutes.js";
import { registerRestoreRoute } from "./restoreRoute.js";
import { registerTreeRoutes } from "./treeRoutes.js";

/**
 * Registers the restore browser's API on `app` (authentication is the caller's, e.g. an `onRequest` hook):
 * `GET /api/browse/commits`, `/list`, `/versions`, `/file`, `/tar` and `POST /api/browse/restore` (each
 * described where it is defined). Names and paths are wire text (see wirePath.ts); a bad parameter is an error
 * with `statusCode` 400 naming it, a path the tree does not hold 404. Trees are read with `salvage` (index damage is
 * named in `damage` and the rest is shown), the last two kept.
 */
export function registerBrowseRoutes(app: FastifyInstance, source: BrowseSource): void {
  const context = new BrowseContext(source);
  registerTreeRoutes(app, context);
  registerHistoryRoutes(app, context);
  registerRestoreRoute(app, context);
}
