import { createReadStream, createWriteStream } from "node:fs";
import { constants, copyFile, link, mkdir, open, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { StorageError, isErrno } from "../errors.js";
import { bodyToStream, keyProblem, type Body, type ByteRange, type ObjectInfo, type StorageBackend } from "./StorageBackend.js";

/** Objects up to this size are read whole by `get`, in one read. */
const SMALL_OBJECT = 1024 * 1024;

/** Options of {@link LocalDirectoryStorage}. */
export interface LocalDirectoryStorageOptions {
  /** The directory holding the objects (created if missing). */
  path: string;
  /** fsync new files and directories in `sync()` (default true; turning it off is for benchmarks only). */
  fsync?: boolean;
}

const TEMP_DIR = ".rtb-tmp";

/**
 * The embedded default backend: one file per object under a directory. Each put writes a temporary file and renames
 * it into place, so a reader never sees a partial object under its name; `sync()` then fsyncs the new files and
 * their directories in bulk. The repository calls `sync()` before writing an index object that names new content
 * (and after it), so after a crash an object may be missing or torn only if nothing refers to it yet — and it is
 * simply written again.
 */
export class LocalDirectoryStorage implements StorageBackend {
  readonly description: string;
  readonly #root: string;
  readonly #fsync: boolean;
  readonly #knownDirs = new Set<string>();
  readonly #dirtyDirs = new Set<string>();
  readonly #dirtyFiles = new Set<string>();

  constructor(options: LocalDirectoryStorageOptions) {
    this.#root = options.path;
    this.#fsync = options.fsync ?? true;
    this.description = `local:${options.path}`;
  }

  #file(key: string): string {
    const problem = keyProblem(key);
    if (problem) throw new StorageError("STORAGE_FAILED", `invalid key "${key}": ${problem}`, { key, transient: false });
    if (key === TEMP_DIR || key.startsWith(`${TEMP_DIR}/`)) {
      throw new StorageError("STORAGE_FAILED", `invalid key "${key}": reserved`, { key, transient: false });
    }
    return join(this.#root, key);
  }

  async put(key: string, body: Body, size: number): Promise<void> {
    await this.#store(key, body, size, false);
  }

  /** {@link StorageBackend.putNew}: the temporary file is linked to its name, which fails when the name exists. */
  async putNew(key: string, body: Body, size: number): Promise<boolean> {
    return this.#store(key, body, size, true);
  }

  async #store(key: string, body: Body, size: number, exclusive: boolean): Promise<boolean> {
    const target = this.#file(key);
    const dir = dirname(target);
    if (!this.#knownDirs.has(dir)) {
      await mkdir(join(this.#root, TEMP_DIR), { recursive: true });
      await mkdir(dir, { recursive: true });
      this.#knownDirs.add(dir);
    }
    const temp = join(this.#root, TEMP_DIR, `${randomBytes(8).toString("hex")}.tmp`);
    try {
      await writeTemp(key, temp, body, size);
      if (!exclusive) await rename(temp, target);
      else if (!(await linkNew(temp, target))) return false;
      if (this.#fsync) {
        this.#dirtyFiles.add(target);
        this.#dirtyDirs.add(dir);
      }
      return true;
    } catch (err) {
      await rm(temp, { force: true });
      if (isErrno(err, "ENOENT")) this.#knownDirs.clear();
      if (err instanceof StorageError) throw err;
      throw new StorageError("STORAGE_FAILED", `put ${key} failed: ${(err as Error).message}`, {
        key,
        cause: err,
        transient: !isErrno(err, "ENOSPC", "EACCES", "EROFS", "EPERM"),
      });
    }
  }

  /**
   * Makes every completed put durable: the files written since the last sync are fsynced (many at once, which lets
   * the filesystem merge them into few journal commits), then the directories holding their new names. The
   * repository calls this before an index batch that names the new objects, so nothing is referenced before it is
   * on disk.
   */
  async sync(): Promise<void> {
    const files = [...this.#dirtyFiles];
    const dirs = [...this.#dirtyDirs];
    this.#dirtyFiles.clear();
    this.#dirtyDirs.clear();
    try {
      for (let i = 0; i < files.length; i += SYNC_PARALLEL) {
        await Promise.all(files.slice(i, i + SYNC_PARALLEL).map((f) => syncPath(f, "r")));
      }
      for (let i = 0; i < dirs.length; i += SYNC_PARALLEL) {
        await Promise.all(dirs.slice(i, i + SYNC_PARALLEL).map((d) => syncPath(d, "r")));
      }
    } catch (err) {
      for (const f of files) this.#dirtyFiles.add(f);
      for (const d of dirs) this.#dirtyDirs.add(d);
      throw new StorageError("STORAGE_FAILED", `sync failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.#file(key);
    if (!range) return this.#readWhole(key, file);
    const info = await this.head(key);
    if (!info) throw new StorageError("STORAGE_NOT_FOUND", `object not found: ${key}`, { key, transient: false });
    if (range.start < 0 || range.end < range.start || range.start >= Math.max(info.size, 1)) {
      throw new StorageError("STORAGE_FAILED", `get ${key}: invalid range ${range.start}-${range.end}`, {
        key,
        transient: false,
      });
    }
    const end = Math.min(range.end, info.size - 1);
    // A range is read in one go when it is up to 8 MiB (a run of a pack's blobs): one read, one chunk, no joining.
    return createReadStream(file, { start: range.start, end, highWaterMark: Math.min(Math.max(end - range.start + 1, 1), 8 * 1024 * 1024) });
  }

  /**
   * A whole object through one open fd: an object of at most {@link SMALL_OBJECT} bytes is read at once (open,
   * fstat, read, close: restoring many small files is mostly these round trips); a larger one is streamed from the
   * same fd, which the stream closes.
   */
  async #readWhole(key: string, file: string): Promise<Readable> {
    let handle;
    try {
      handle = await open(file, "r");
    } catch (err) {
      if (isErrno(err, "ENOENT", "ENOTDIR", "EISDIR")) throw new StorageError("STORAGE_NOT_FOUND", `object not found: ${key}`, { key, transient: false });
      throw err;
    }
    let streaming = false;
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new StorageError("STORAGE_NOT_FOUND", `object not found: ${key}`, { key, transient: false });
      if (info.size > SMALL_OBJECT) {
        streaming = true;
        return handle.createReadStream();
      }
      // One byte more than the size, so an object that grew since the fstat is read whole (and fails verification).
      const buffer = Buffer.allocUnsafe(info.size + 1);
      let length = 0;
      while (length < buffer.length) {
        const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
        if (bytesRead === 0) break;
        length += bytesRead;
      }
      return Readable.from([buffer.subarray(0, length)]);
    } finally {
      if (!streaming) await handle.close();
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const info = await stat(this.#file(key));
      return info.isFile() ? { key, size: info.size } : undefined;
    } catch (err) {
      if (isErrno(err, "ENOENT", "ENOTDIR")) return undefined;
      throw new StorageError("STORAGE_FAILED", `head ${key} failed: ${(err as Error).message}`, { key, cause: err });
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    // Walk only the directories that can hold keys with this prefix, in byte order.
    const slash = prefix.lastIndexOf("/");
    const baseKey = slash >= 0 ? prefix.slice(0, slash + 1) : "";
    yield* this.#walk(baseKey, prefix);
  }

  async *#walk(dirKey: string, prefix: string): AsyncGenerator<ObjectInfo> {
    let dirents: import("node:fs").Dirent[];
    try {
      dirents = await readdir(join(this.#root, dirKey), { withFileTypes: true });
    } catch (err) {
      if (isErrno(err, "ENOENT", "ENOTDIR")) return;
      throw new StorageError("STORAGE_FAILED", `list ${prefix} failed: ${(err as Error).message}`, { cause: err });
    }
    // Byte order of keys: a directory sorts as if its name ended in "/".
    const withKind = dirents
      .filter((d) => !(dirKey === "" && d.name === TEMP_DIR) && (d.isDirectory() || d.isFile()))
      .map((d) => ({ n: d.name, dir: d.isDirectory(), sortKey: Buffer.from(d.isDirectory() ? `${d.name}/` : d.name) }));
    withKind.sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
    for (const { n, dir } of withKind) {
      const key = dirKey + n;
      if (dir) {
        const sub = `${key}/`;
        if (sub.startsWith(prefix) || prefix.startsWith(sub)) yield* this.#walk(sub, prefix);
      } else if (key.startsWith(prefix)) {
        const st = await stat(join(this.#root, key)).catch(() => undefined);
        if (st) yield { key, size: st.size };
      }
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.#file(key));
    } catch (err) {
      if (isErrno(err, "ENOENT")) return;
      throw new StorageError("STORAGE_FAILED", `delete ${key} failed: ${(err as Error).message}`, { key, cause: err });
    }
  }
}

const SYNC_PARALLEL = 64;

async function syncPath(path: string, flags: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, flags);
  } catch (err) {
    // Overwritten or removed since: whatever replaced it is synced on its own account.
    if (isErrno(err, "ENOENT")) return;
    throw err;
  }
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `body` (exactly `size` bytes, else a STORAGE_FAILED error naming `key`) to the new file `temp`. */
async function writeTemp(key: string, temp: string, body: Body, size: number): Promise<void> {
  if (body instanceof Uint8Array) {
    if (body.length !== size) throw new StorageError("STORAGE_FAILED", `put ${key}: body is ${body.length} bytes, expected ${size}`, { key, transient: false });
    const handle = await open(temp, "wx");
    try {
      await handle.writeFile(body);
    } finally {
      await handle.close();
    }
    return;
  }
  await pipeline(await bodyToStream(body), createWriteStream(temp, { flags: "wx" }));
  const handle = await open(temp, "r");
  try {
    const { size: written } = await handle.stat();
    if (written !== size) throw new StorageError("STORAGE_FAILED", `put ${key}: body was ${written} bytes, expected ${size}`, { key, transient: false });
  } finally {
    await handle.close();
  }
}

/**
 * Gives `temp` the name `target` only if nothing has it: resolves false when something does. The temporary name is
 * removed either way. A file system without hard links gets an exclusive copy (created atomically, filled after).
 */
async function linkNew(temp: string, target: string): Promise<boolean> {
  try {
    await link(temp, target).catch((err) =>
      isErrno(err, "EPERM", "ENOTSUP", "EOPNOTSUPP") ? copyFile(temp, target, constants.COPYFILE_EXCL) : Promise.reject(err),
    );
    return true;
  } catch (err) {
    if (isErrno(err, "EEXIST")) return false;
    throw err;
  } finally {
    await rm(temp, { force: true });
  }
}
