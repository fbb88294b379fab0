import { PassThrough, type Readable } from "node:stream";
import { pack, type Header, type Pack } from "tar-stream";
import { messageOf, type ChunkSource, type FileEntry, type Logger } from "@rtbackup/core";
import type { BrowseTree } from "./BrowseTree.js";
import { fileContent } from "./content.js";
import { toWire } from "./wirePath.js";

/** Entries planned (told to the chunk source, which then fetches neighbouring blobs together) at once. */
const PLAN_ENTRIES = 256;
/** ... or file bytes planned at once: what a window of fetched-ahead blobs may hold. */
const PLAN_BYTES = 32 * 1024 * 1024;

/** A header as `pack().entry` takes it. */
type EntryHeader = Partial<Header> & { name: string };

/** What {@link drained} needs of a stream (Node's or streamx's). */
type Emitter = { once(event: string, listener: (...args: unknown[]) => void): unknown; off(event: string, listener: (...args: unknown[]) => void): unknown };

/** Resolves when `stream` drains; rejects when it closes or fails first (the download went away). */
function drained(stream: Emitter): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err?: unknown) => {
      stream.off("drain", onDrain);
      stream.off("close", onClose);
      stream.off("error", onClose);
      if (err) reject(err instanceof Error ? err : new Error("the tar stream was closed"));
      else resolve();
    };
    const onDrain = () => done();
    const onClose = (err?: unknown) => done(err ?? new Error("the tar stream was closed"));
    stream.once("drain", onDrain);
    stream.once("close", onClose);
    stream.once("error", onClose);
  });
}

/**
 * A name of the tree as tar writes it. tar-stream writes names as UTF-8 text, so a byte that is not UTF-8 cannot
 * go through: it is written `\xNN`, as the API shows it (every other character, backslash included, is itself).
 */
function tarText(text: string): string {
  return /[\uD800-\uDFFF]/.test(text) ? text.replace(/[\u{DC80}-\u{DCFF}]/gu, (c) => toWire(c)) : text;
}

/** An owner name if it fits its 32-byte ustar field (a longer one is left out: the ids still say who). */
const ownerName = (name: string | undefined) => (name !== undefined && Buffer.byteLength(name) < 32 ? name : undefined);

/** The tar header of `entry` (undefined: an implied directory) under the name `name`. */
function headerOf(name: string, entry: FileEntry | undefined, tree: BrowseTree): EntryHeader {
  if (!entry || entry.type === "dir") {
    const base = { name: `${name}/`, type: "directory" as const };
    if (!entry) return { ...base, mode: 0o755, mtime: new Date(tree.time) };
    return { ...base, ...ownership(entry) };
  }
  const header = { name, ...ownership(entry) };
  switch (entry.type) {
    case "file":
      return { ...header, type: "file", size: entry.size };
    case "symlink":
      return { ...header, type: "symlink", linkname: tarText(entry.target ?? "") };
    case "fifo":
      return { ...header, type: "fifo" };
    default:
      return { ...header, type: entry.type === "chardev" ? "character-device" : "block-device", devmajor: entry.major ?? 0, devminor: entry.minor ?? 0 };
  }
}

function ownership(entry: FileEntry) {
  const uname = ownerName(entry.user);
  const gname = ownerName(entry.group);
  return {
    mode: entry.mode & 0o7777,
    mtime: new Date(entry.mtimeMs),
    uid: entry.uid,
    gid: entry.gid,
    ...(uname !== undefined ? { uname } : {}),
    ...(gname !== undefined ? { gname } : {}),
  };
}

/** Adds one entry to `archive`; its content (a file's) comes from `content`. Resolves when the entry is written. */
async function addEntry(archive: Pack, header: EntryHeader, content?: AsyncIterable<Buffer>): Promise<void> {
  let settle!: (err?: Error | null) => void;
  const done = new Promise<void>((resolve, reject) => (settle = (err) => (err ? reject(err) : resolve())));
  // Awaited below, unless writing the content fails first: then it must not be an unhandled rejection.
  done.catch(() => undefined);
  const sink = archive.entry(header, (err) => settle(err));
  // A failure reaches `done` through the callback; unheard, the sink's own error event would end the process.
  sink.on("error", () => undefined);
  // tar-stream reads a symlink's target from the body when the header has none (an index may record none).
  if (content || (header.type === "symlink" && !header.linkname)) {
    for await (const data of content ?? []) if (!sink.write(data)) await drained(sink as unknown as Emitter);
    sink.end(null);
  }
  await done;
}

/** One window of entries: written after their blobs were planned together. */
interface Window {
  paths: string[];
  bytes: number;
}

/**
 * A tar stream of `dir`'s subtree in `tree` (directories, files with mode, owner, mtime and size, symlinks, FIFOs
 * and device nodes), written as it is read: names are relative to `dir`'s parent (`x/...` for `/a/x`; the top-level
 * names for `/`), long ones in pax headers. Each blob is verified before it is written; one that fails ends the
 * stream with an error (logged), so a truncated archive is never a complete-looking one.
 */
export function tarOf(tree: BrowseTree, dir: string, chunks: ChunkSource, log: Logger): Readable {
  const out = new PassThrough();
  const archive = pack();
  // Its failures are handled through pipe's callback and writeTree's; an unheard error event would end the process.
  archive.on("error", () => undefined);
  // The pipe also ends the archive when `out` closes early (the download went away): writeTree then stops.
  archive.pipe(out, (err: unknown) => {
    if (err) out.destroy(err instanceof Error ? err : new Error(String(err)));
  });
  writeTree(archive, out, tree, dir, chunks).catch((err: unknown) => {
    if (!out.destroyed) log.error(`tar of ${toWire(dir)} as of ${new Date(tree.time).toISOString()} failed: ${messageOf(err)}`, err);
    archive.destroy(err instanceof Error ? err : new Error(messageOf(err)));
  });
  return out;
}

async function writeTree(archive: Pack, out: PassThrough, tree: BrowseTree, dir: string, chunks: ChunkSource): Promise<void> {
  // Everything under `dir` is named from `dir`'s parent on: the part of its path up to and with that parent's "/".
  const cut = dir === "/" ? 1 : dir.lastIndexOf("/") + 1;
  let window: Window = { paths: [], bytes: 0 };
  for (const path of tree.walk(dir)) {
    if (path === "/") continue;
    window.paths.push(path);
    const entry = tree.entry(path);
    if (entry?.type === "file") window.bytes += entry.size;
    if (window.paths.length >= PLAN_ENTRIES || window.bytes >= PLAN_BYTES) {
      await writeWindow(archive, out, tree, window, cut, chunks);
      window = { paths: [], bytes: 0 };
    }
  }
  await writeWindow(archive, out, tree, window, cut, chunks);
  archive.finalize();
}

async function writeWindow(archive: Pack, out: PassThrough, tree: BrowseTree, window: Window, cut: number, chunks: ChunkSource): Promise<void> {
  const entries = window.paths.map((path) => ({ path, entry: tree.entry(path) }));
  chunks.plan?.(entries.flatMap(({ entry }) => (entry?.type === "file" ? entry.chunks : [])));
  for (const { path, entry } of entries) {
    if (out.destroyed) throw new Error("the download was closed");
    const header = headerOf(tarText(path.slice(cut)), entry, tree);
    await addEntry(archive, header, entry?.type === "file" ? fileContent(entry, chunks) : undefined);
    // Headers alone are not held back by tar-stream: wait for the reader before adding more.
    if (out.writableNeedDrain) await drained(out);
  }
}
