import type { FastifyInstance } from "fastify";
import { Restorer, contentOf, type RestoreEvent } from "@rtbackup/core";
import { notInTree, type BrowseContext } from "./BrowseContext.js";
import { iso } from "./entryJson.js";
import { momentParam, paramsOf, pathParam, shown } from "./params.js";
import { toWire } from "./wirePath.js";

/** Failure messages an answer carries at most (the counts say how many there were). */
const MAX_FAILURES = 20;

/**
 * `POST /api/browse/restore` with `{ at?, path, target }`: restores `path` (a file, a symlink, or a directory's whole
 * subtree) as of `at` under the directory `target`, as `rtb restore -r --to target` does (path `/a/b` lands in
 * `target/a/b`): the Restorer never writes outside `target`, even against a local user swapping directories under
 * it, and verifies every blob. Answers the Restorer's counts and the first failures' messages.
 */
async function restore(context: BrowseContext, body: unknown) {
  const params = paramsOf(body, ["at", "path", "target"], "body");
  const at = momentParam(params, "at");
  const path = pathParam(params, "path");
  const target = pathParam(params, "target");
  const tree = await context.tree(at);
  const selection = Restorer.select(tree.view.entries, [path], true);
  if (selection.entries.length === 0) throw notInTree("path", shown(toWire(path)), "not", tree);
  const failures: string[] = [];
  const onEvent = (e: RestoreEvent) => {
    if ((e.event === "error" || e.event === "unsafe" || e.event === "incomplete") && failures.length < MAX_FAILURES)
      failures.push(`${e.event === "incomplete" ? "incomplete" : e.event === "unsafe" ? "unsafe, skipped" : "failed"}: ${toWire(e.path)}: ${e.error}`);
  };
  const restorer = new Restorer(contentOf(await context.repository(), tree.view), { onEvent });
  const result = await restorer.restore(selection.entries, target);
  const failed = result.errors + result.unsafe;
  const summary = `restore of ${toWire(path)} as of ${iso(tree.time)} into ${toWire(target)}: ${result.restored} restored, ${failed} failed`;
  if (failed > 0) context.log.warn(summary);
  else context.log.info(summary);
  return {
    path: toWire(path),
    at: iso(tree.time),
    target: toWire(target),
    restored: result.restored,
    bytes: result.bytes,
    failed,
    errors: result.errors,
    unsafe: result.unsafe,
    incomplete: result.incomplete,
    failures,
  };
}

/** Registers `POST /api/browse/restore`. */
export function registerRestoreRoute(app: FastifyInstance, context: BrowseContext): void {
  app.post("/api/browse/restore", (request) => restore(context, request.body));
}
