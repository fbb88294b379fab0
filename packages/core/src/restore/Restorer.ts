import { chmod, lchown, lstat, lutimes, mkdir, open, rename, rm, symlink, utimes } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";
import type { Writable } from "node:stream";
import { BackupError, messageOf } from "../errors.js";
import { fsPath } from "../fsNames.js";
import { isPathUnder } from "../repository/format.js";
import type { Repository } from "../repository/Repository.js";
import type { FileEntry } from "../types.js";
import { targetPathOf } from "./safePath.js";
import { backoffDelay, delay } from "../pipeline/retry.js";

/** What a restore reports as it goes (streamed as JSON lines by the CLI). */
export type RestoreEvent =
  | { event: "restored"; path: string; target: string; type: FileEntry["type"]; size: number }
  | { event: "error"; path: string; error: string }
  | { event: "unsafe"; path: string; error: string };

/** Totals of a restore. */
export interface RestoreResult {
  restored: number;
  bytes: number;
  errors: number;
  unsafe: number;
}

/** Attempts per chunk before a restore gives up on a file. */
const CHUNK_ATTEMPTS = 5;

/** Options of {@link Restorer}. */
export interface RestorerOptions {
  /** Files restored in parallel. Default 8. */
  concurrency?: number;
  /** Restore owners (uid/gid). Default: when running as root. */
  restoreOwner?: boolean;
  onEvent?: (event: RestoreEvent) => void;
}

/** Entries selected by `select`, and the requested paths that matched nothing. */
export interface Selection {
  entries: FileEntry[];
  missing: string[];
}

function normalize(path: string): string {
  const p = resolve("/", path);
  return p.length > 1 && p.endsWith("/") ? p.slice(0, -1) : p;
}

/**
 * Restores entries of a tree view into a target directory. Never writes outside it: entries whose path could
 * escape are refused and reported, parent directories are checked to be real directories (not symlinks) before
 * anything is written into them, files are written to a temporary name and renamed, and symlinks are created last
 * so no restored link can redirect a later write. Every chunk is verified before its bytes are written.
 */
export class Restorer {
  readonly #repo: Repository;
  readonly #concurrency: number;
  readonly #owner: boolean;
  readonly #onEvent: (event: RestoreEvent) => void;
  readonly #verifiedDirs = new Set<string>();

  constructor(repo: Repository, options: RestorerOptions = {}) {
    this.#repo = repo;
    this.#concurrency = options.concurrency ?? 8;
    this.#owner = options.restoreOwner ?? process.getuid?.() === 0;
    this.#onEvent = options.onEvent ?? (() => undefined);
  }

  /**
   * Picks entries: each requested path that is a file or symlink selects itself; a directory selects the files
   * directly in it, or its whole subtree with `recursive` (directories included, to restore their metadata).
   */
  static select(tree: Map<string, FileEntry>, paths: readonly string[], recursive: boolean): Selection {
    const chosen = new Map<string, FileEntry>();
    const missing: string[] = [];
    const all = [...tree.values()];
    for (const raw of paths) {
      const path = normalize(raw);
      if (path === "/" && recursive) {
        // Everything, including entries whose paths are malformed, so that restore reports them.
        for (const e of all) chosen.set(e.path, e);
        if (all.length === 0) missing.push(raw);
        continue;
      }
      const exact = tree.get(path);
      let found = false;
      if (exact && exact.type !== "dir") {
        chosen.set(path, exact);
        continue;
      }
      if (exact) {
        chosen.set(path, exact);
        found = true;
      }
      for (const e of all) {
        if (e.path === path || !isPathUnder(e.path, path)) continue;
        const direct = dirname(e.path) === path;
        if (recursive || (direct && e.type !== "dir")) {
          chosen.set(e.path, e);
          found = true;
        }
      }
      if (!found) missing.push(raw);
    }
    return { entries: [...chosen.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)), missing };
  }

  /** Restores entries under `target` (created if missing). */
  async restore(entries: readonly FileEntry[], target: string): Promise<RestoreResult> {
    const root = resolve(target);
    await mkdir(fsPath(root), { recursive: true });
    const result: RestoreResult = { restored: 0, bytes: 0, errors: 0, unsafe: 0 };
    const placed: { entry: FileEntry; dest: string }[] = [];
    for (const entry of entries) {
      const dest = targetPathOf(root, entry.path);
      if (!dest) {
        result.unsafe++;
        this.#onEvent({ event: "unsafe", path: entry.path, error: "path would escape the restore target; skipped" });
        continue;
      }
      placed.push({ entry, dest });
    }
    const dirs = placed.filter((p) => p.entry.type === "dir");
    const files = placed.filter((p) => p.entry.type === "file");
    const links = placed.filter((p) => p.entry.type === "symlink");
    const run = async (item: { entry: FileEntry; dest: string }, work: () => Promise<void>) => {
      try {
        await work();
        result.restored++;
        if (item.entry.type === "file") result.bytes += item.entry.size;
        this.#onEvent({ event: "restored", path: item.entry.path, target: item.dest, type: item.entry.type, size: item.entry.size });
      } catch (err) {
        const unsafe = err instanceof BackupError && err.code === "RESTORE_UNSAFE_PATH";
        if (unsafe) result.unsafe++;
        else result.errors++;
        this.#onEvent({ event: unsafe ? "unsafe" : "error", path: item.entry.path, error: messageOf(err) });
      }
    };
    for (const d of dirs) await this.#ensureDir(root, d.dest).catch(() => undefined);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(this.#concurrency, files.length) }, async () => {
        while (next < files.length) {
          const item = files[next++]!;
          await run(item, () => this.#restoreFile(root, item.entry, item.dest));
        }
      }),
    );
    for (const item of links) await run(item, () => this.#restoreLink(root, item.entry, item.dest));
    // Directory metadata last, deepest first, so writing into them does not disturb their mtime.
    for (const item of [...dirs].sort((a, b) => b.dest.length - a.dest.length)) {
      await run(item, async () => {
        await this.#ensureDir(root, item.dest);
        await this.#applyMeta(item.entry, item.dest);
      });
    }
    return result;
  }

  /**
   * Reads one verified chunk, retrying failures with backoff (storage hiccups, a body cut short, even a corrupt
   * transfer); an object that is missing, or still fails verification after every attempt, is an error naming it.
   */
  async #chunk(id: string): Promise<Buffer> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#repo.getChunk(id);
      } catch (err) {
        const missing = err instanceof BackupError && err.code === "STORAGE_NOT_FOUND";
        if (missing || attempt >= CHUNK_ATTEMPTS) throw err;
        await delay(backoffDelay(attempt, 200, 5_000));
      }
    }
  }

  /** Writes a file's content to a stream, verifying each chunk before it is written. */
  async cat(entry: FileEntry, out: Writable): Promise<void> {
    if (entry.type !== "file") throw new BackupError("RESTORE_NOT_FOUND", `${entry.path} is a ${entry.type}, not a file`);
    let written = 0;
    for (const id of entry.chunks) {
      const data = await this.#chunk(id);
      written += data.length;
      if (!out.write(data)) await new Promise<void>((r) => out.once("drain", () => r()));
    }
    if (written !== entry.size) {
      throw new BackupError("INTEGRITY", `${entry.path}: content is ${written} bytes, the index says ${entry.size}`);
    }
  }

  /** Creates `dir` (and its parents) under `root`, refusing any existing component that is not a real directory. */
  async #ensureDir(root: string, dir: string): Promise<void> {
    if (dir === root || this.#verifiedDirs.has(dir)) return;
    await this.#ensureDir(root, dirname(dir));
    try {
      const st = await lstat(fsPath(dir));
      if (!st.isDirectory()) {
        throw new BackupError("RESTORE_UNSAFE_PATH", `${dir} exists and is not a directory (${st.isSymbolicLink() ? "a symlink" : "a file"}); refusing to write through it`);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      await mkdir(fsPath(dir), { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== "EEXIST") throw e;
      });
      const st = await lstat(fsPath(dir));
      if (!st.isDirectory()) throw new BackupError("RESTORE_UNSAFE_PATH", `${dir} is not a directory`);
    }
    this.#verifiedDirs.add(dir);
  }

  async #restoreFile(root: string, entry: FileEntry, dest: string): Promise<void> {
    await this.#ensureDir(root, dirname(dest));
    const temp = join(dirname(dest), `.${basename(dest).slice(0, 40)}.rtb-restore-${randomBytes(6).toString("hex")}`);
    // O_EXCL + O_NOFOLLOW via "wx": a planted symlink at the temp name cannot redirect the write.
    const handle = await open(fsPath(temp), "wx", 0o600);
    try {
      let written = 0;
      // Fetch ahead: up to 3 chunks of a large file are downloaded while earlier ones are written.
      const ahead: Promise<Buffer>[] = [];
      const fetch = (i: number) => {
        const p = this.#chunk(entry.chunks[i]!);
        p.catch(() => undefined);
        ahead.push(p);
      };
      for (let i = 0; i < Math.min(3, entry.chunks.length); i++) fetch(i);
      for (let i = 0; i < entry.chunks.length; i++) {
        const data = await ahead.shift()!;
        if (i + 3 < entry.chunks.length) fetch(i + 3);
        await handle.write(data, 0, data.length, written);
        written += data.length;
      }
      if (written !== entry.size) {
        throw new BackupError("INTEGRITY", `${entry.path}: content is ${written} bytes, the index says ${entry.size}`);
      }
    } catch (err) {
      await handle.close();
      await rm(fsPath(temp), { force: true });
      throw err;
    }
    await handle.close();
    try {
      await this.#applyMeta(entry, temp);
      await rename(fsPath(temp), fsPath(dest));
    } catch (err) {
      await rm(fsPath(temp), { force: true });
      throw err;
    }
  }

  async #restoreLink(root: string, entry: FileEntry, dest: string): Promise<void> {
    await this.#ensureDir(root, dirname(dest));
    const temp = join(dirname(dest), `.rtb-restore-link-${randomBytes(6).toString("hex")}`);
    await symlink(fsPath(entry.target ?? ""), fsPath(temp));
    try {
      if (this.#owner) await lchown(fsPath(temp), entry.uid, entry.gid);
      const t = entry.mtimeMs / 1000;
      await lutimes(fsPath(temp), t, t);
      const existing = await lstat(fsPath(dest)).catch(() => undefined);
      if (existing?.isDirectory()) throw new BackupError("RESTORE_UNSAFE_PATH", `${dest} is a directory; not replacing it with a symlink`);
      await rename(fsPath(temp), fsPath(dest));
    } catch (err) {
      await rm(fsPath(temp), { force: true });
      throw err;
    }
  }

  async #applyMeta(entry: FileEntry, path: string): Promise<void> {
    if (this.#owner) await lchown(fsPath(path), entry.uid, entry.gid);
    await chmod(fsPath(path), entry.mode & 0o7777);
    const t = entry.mtimeMs / 1000;
    await utimes(fsPath(path), t, t);
  }
}
