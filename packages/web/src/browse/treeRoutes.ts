import { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply } from "fastify";
import { contentOf, messageOf, type FileEntry } from "@rtbackup/core";
import { notInTree, type BrowseContext } from "./BrowseContext.js";
import { childPath, type BrowseTree } from "./BrowseTree.js";
import { contentDisposition, fileContent, readBlob } from "./content.js";
import { iso, kindOf, listedEntry } from "./entryJson.js";
import { limitParam, momentParam, nameParam, paramsOf, pathParam, shown } from "./params.js";
import { tarOf } from "./tarStream.js";
import { toWire } from "./wirePath.js";

/** The last segment of a path (`/` for the root). */
const baseName = (path: string) => (path === "/" ? "/" : path.slice(path.lastIndexOf("/") + 1));

/** Messages of the index damage a tree was read around (it is then the best known state), when there is any. */
const damageOf = (tree: BrowseTree) => (tree.view.damage.length ? { damage: tree.view.damage.map((d) => d.message) } : {});

/** `GET /api/browse/list`: one page of a directory's children as of a moment. */
async function list(context: BrowseContext, query: unknown) {
  const params = paramsOf(query, ["at", "path", "after", "limit"]);
  const at = momentParam(params, "at");
  const path = pathParam(params, "path", "/");
  const after = nameParam(params, "after");
  const limit = limitParam(params, "limit", 1, 1000, 200);
  const tree = await context.tree(at);
  if (!tree.isDirectory(path)) throw notInTree("path", shown(toWire(path)), "not a directory", tree);
  const page = tree.page(path, after, limit);
  const entries = page.names.map((name) => {
    const child = childPath(path, name);
    return listedEntry(name, child, tree.entry(child));
  });
  return { path: toWire(path), at: iso(tree.time), entries, ...(page.next !== undefined ? { next: toWire(page.next) } : {}), ...damageOf(tree) };
}

/** The regular file at `path` in `tree`, else a 404 (nothing there) or 400 (something else there) naming it. */
function fileAt(tree: BrowseTree, path: string): FileEntry {
  const entry = tree.entry(path);
  if (entry?.type === "file") return entry;
  const there = entry ? kindOf(entry.type) : tree.isDirectory(path) ? "directory" : undefined;
  if (there === undefined) throw notInTree("path", shown(toWire(path)), "not", tree);
  throw notInTree("path", shown(toWire(path)), `a ${there}, not a regular file,`, tree, 400);
}

/**
 * `GET /api/browse/file`: a file's bytes as of a moment, streamed blob by blob, each verified. The first blob is
 * read before the answer starts, so a blob that is missing or damaged there is an error answer, not a cut download.
 */
async function file(context: BrowseContext, query: unknown, reply: FastifyReply) {
  const params = paramsOf(query, ["at", "path"]);
  const at = momentParam(params, "at");
  const path = pathParam(params, "path");
  const tree = await context.tree(at);
  const entry = fileAt(tree, path);
  const chunks = contentOf(await context.repository(), tree.view);
  chunks.plan?.(entry.chunks);
  const first = entry.chunks.length > 0 ? await readBlob(chunks, entry.chunks[0]!) : undefined;
  const body = Readable.from(
    (async function* () {
      try {
        yield* fileContent(entry, chunks, first);
      } catch (err) {
        context.log.error(`download of ${toWire(path)} as of ${iso(tree.time)} failed: ${messageOf(err)}`, err);
        throw err;
      }
    })(),
  );
  return reply
    .type("application/octet-stream")
    .header("content-length", entry.size)
    .header("content-disposition", contentDisposition(baseName(path)))
    .header("last-modified", new Date(entry.mtimeMs).toUTCString())
    .header("x-content-type-options", "nosniff")
    .send(body);
}

/** `GET /api/browse/tar`: a directory's subtree as of a moment, as a tar stream. */
async function tar(context: BrowseContext, query: unknown, reply: FastifyReply) {
  const params = paramsOf(query, ["at", "path"]);
  const at = momentParam(params, "at");
  const path = pathParam(params, "path");
  const tree = await context.tree(at);
  if (!tree.isDirectory(path)) {
    const entry = tree.entry(path);
    if (!entry) throw notInTree("path", shown(toWire(path)), "not", tree);
    throw notInTree("path", shown(toWire(path)), `a ${kindOf(entry.type)}, not a directory,`, tree, 400);
  }
  const chunks = contentOf(await context.repository(), tree.view);
  const name = path === "/" ? "root" : baseName(path);
  return reply
    .type("application/x-tar")
    .header("content-disposition", contentDisposition(`${name}.tar`))
    .header("x-content-type-options", "nosniff")
    .send(tarOf(tree, path, chunks, context.log));
}

/** Registers the routes that read one tree: list, file and tar. */
export function registerTreeRoutes(app: FastifyInstance, context: BrowseContext): void {
  app.get("/api/browse/list", (request) => list(context, request.query));
  app.get("/api/browse/file", (request, reply) => file(context, request.query, reply));
  app.get("/api/browse/tar", (request, reply) => tar(context, request.query, reply));
}
