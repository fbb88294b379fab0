import type { FastifyInstance } from "fastify";
import { contentIdOf, type CommitSummary, type HistoryReader, type Version } from "@rtbackup/core";
import type { BrowseContext } from "./BrowseContext.js";
import { iso, kindOf } from "./entryJson.js";
import { limitParam, momentParam, paramsOf, pathParam } from "./params.js";
import { toWire } from "./wirePath.js";

/** Messages of the index damage met reading the history (what could be read is still answered), when there is any. */
const damageOf = (history: HistoryReader) => (history.damage.length ? { damage: history.damage.map((d) => d.message) } : {});

/** A writer's host, when its lane names one. */
const hostOf = (history: HistoryReader, writer: string) => {
  const host = history.hosts.get(writer);
  return host !== undefined ? { host } : {};
};

function commitJson(history: HistoryReader, c: CommitSummary) {
  return {
    time: iso(c.time),
    writer: c.writer,
    ...hostOf(history, c.writer),
    seq: c.seq,
    puts: c.put,
    moves: c.moved,
    deletes: c.deleted,
    bytes: c.bytes,
    ...(c.storedBytes !== undefined ? { storedBytes: c.storedBytes } : {}),
  };
}

/**
 * `GET /api/browse/commits`: the commit timeline, newest first, `limit` at a time, each page the commits strictly
 * before `before`. A page never splits the commits of one millisecond (it takes them all, so it may be longer than
 * `limit`), so `next` (the oldest time on the page) loses none and repeats none.
 */
async function commits(context: BrowseContext, query: unknown) {
  const params = paramsOf(query, ["before", "limit"]);
  const before = momentParam(params, "before");
  const limit = limitParam(params, "limit", 1, 500, 100);
  return context.history(async (history) => {
    const all = await history.summaries(before === undefined ? {} : { until: before - 1 });
    // By time (stable: commits of one millisecond stay in apply order), as the pages cut them.
    all.sort((a, b) => a.time - b.time);
    let start = Math.max(0, all.length - limit);
    while (start > 0 && all[start - 1]!.time === all[start]!.time) start--;
    const page = all.slice(start).reverse();
    return {
      commits: page.map((c) => commitJson(history, c)),
      ...(start > 0 ? { next: iso(all[start]!.time) } : {}),
      ...damageOf(history),
    };
  });
}

/** One version as JSON: when and by whom, what the commit left there, and when that was deleted, if it was. */
function versionJson(history: HistoryReader, v: Version, next: Version | undefined) {
  const e = v.entry;
  const content = e ? contentIdOf(e) : undefined;
  return {
    time: iso(v.time),
    change: v.event,
    writer: v.writer,
    ...hostOf(history, v.writer),
    seq: v.seq,
    ...(e
      ? {
          type: kindOf(e.type),
          size: e.size,
          mtime: iso(e.mtimeMs),
          mode: e.mode & 0o7777,
          ...(content !== undefined ? { content } : {}),
          ...(e.type === "symlink" ? { target: toWire(e.target ?? "") } : {}),
        }
      : {}),
    ...(v.from !== undefined ? { from: toWire(v.from) } : {}),
    ...(e && next?.event === "deleted" ? { deletedAt: iso(next.time) } : {}),
  };
}

/**
 * `GET /api/browse/versions`: every committed version of a path, oldest first, as `rtb versions` lists them (puts,
 * moves in, deletes, including the delete of a directory above it). A path with no version gives an empty list.
 */
async function versions(context: BrowseContext, query: unknown) {
  const path = pathParam(paramsOf(query, ["path"]), "path");
  return context.history(async (history) => {
    const found = await history.versions(path);
    return { path: toWire(path), versions: found.map((v, i) => versionJson(history, v, found[i + 1])), ...damageOf(history) };
  });
}

/** Registers the routes that read the history: commits and versions. */
export function registerHistoryRoutes(app: FastifyInstance, context: BrowseContext): void {
  app.get("/api/browse/commits", (request) => commits(context, request.query));
  app.get("/api/browse/versions", (request) => versions(context, request.query));
}
