import { mkdir } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import type { Writable } from "node:stream";
import { BackupError, messageOf } from "../errors.js";
import { encodeName, fsPath } from "../fsNames.js";
import type { ChunkSource } from "./loadTree.js";
import type { FileEntry, SpecialType } from "../types.js";
import { isSpecialType } from "../entryTypes.js";
import { DirCache } from "./DirCache.js";
import { OwnerNames } from "../owners/OwnerNames.js";
import { arraySource, groupLinks, linkedKeys, type Links, type RestoreSource } from "./RestoreSource.js";
import { dataRuns } from "./holes.js";
import { OpenDir, type Meta } from "./OpenDir.js";
import { safeRelative, targetPathOf } from "./safePath.js";
import { selectEntries, type Selection } from "./select.js";

export type { Selection } from "./select.js";
import { backoffDelay, delay } from "../pipeline/retry.js";

/** What a restore reports as it goes (streamed as JSON lines by the CLI). */
export type RestoreEvent =
  | { event: "restored"; path: string; target: string; type: FileEntry["type"]; size: number }
  /** `size`: a file's, so progress can count what was dealt with. */
  | { event: "error"; path: string; error: string; size?: number }
  | { event: "unsafe"; path: string; error: string; size?: number }
  /** Restored, but some of its metadata could not be applied (after its `restored` event): `error` says what. */
  | { event: "incomplete"; path: string; target: string; error: string };

/** Totals of a restore. */
export interface RestoreResult {
  restored: number;
  bytes: number;
  errors: number;
  unsafe: number;
  /** Entries restored with some metadata not applied (extended attributes a non-root restore may not set). */
  incomplete: number;
}

/** Attempts per chunk before a restore gives up on a file. */
const CHUNK_ATTEMPTS = 5;
/** Bytes of a large file fetched ahead of the one being written (estimated from its size and chunk count). */
const READ_AHEAD_BYTES = 16 * 1024 * 1024;

/** Options of {@link Restorer}. */
export interface RestorerOptions {
  /** Files restored in parallel. Default 8. */
  concurrency?: number;
  /** Restore owners (uid/gid). Default: when running as root. */
  restoreOwner?: boolean;
  /** Idle directory fds kept open for reuse (see {@link DirCache}). Default 64. */
  maxOpenDirs?: number;
  /**
   * Leave a hole where a file has a block of 4 KiB of zero bytes (aligned to the file), so that a sparse file (a VM
   * image, a database) takes on disk about what it did, not its full size. Default true; the bytes read back are the
   * same either way.
   */
  sparse?: boolean;
  /**
   * Restore the recorded uid and gid as they are, even where the entry names a user or group this machine knows
   * under another id (`tar --numeric-owner`). Default false: a recorded name wins over its id.
   */
  numericOwner?: boolean;
  /**
   * Set recorded extended attributes (ACLs, file capabilities, `user.*`, ...). Default true. Each one that cannot be
   * set (not root: `trusted.*`, `security.capability`; a filesystem without them) is reported in an `incomplete`
   * event and the entry is still restored.
   */
  xattrs?: boolean;
  /** Where names are looked up (default: this machine's /etc/passwd and /etc/group). */
  owners?: OwnerNames;
  onEvent?: (event: RestoreEvent) => void;
}

/** One entry placed under the target: its path segments below the target, and its display path there. */
interface Placed {
  entry: FileEntry;
  segments: string[];
  dest: string;
  /** What could not be applied to it (reported once it is restored). */
  problems: string[];
}

/**
 * Restores entries of a tree view into a target directory. Never writes outside it, even while a local user who owns
 * a directory on the way swaps things under it: entries whose path could escape are refused and reported; the target
 * is opened once (trusted as named, like `cp -a`) and every directory below it is opened relative to its parent's fd
 * without following symlinks (see {@link OpenDir}); files are created with `O_EXCL|O_NOFOLLOW` under a temporary
 * name in that directory, get their metadata (owner, mode, extended attributes, times) on the open fd and are
 * renamed into place relative to the same fd; FIFOs and device nodes are made next (`mknodat`, never opened);
 * symlinks are created last, so no restored link can redirect a later write, and their owner and times are set
 * without following them; directory metadata is applied last, deepest first, on fds. Every chunk is verified before
 * its bytes are written.
 */
export class Restorer {
  readonly #repo: ChunkSource;
  readonly #concurrency: number;
  readonly #owner: boolean;
  readonly #onEvent: (event: RestoreEvent) => void;
  readonly #maxOpenDirs: number | undefined;
  readonly #sparse: boolean;
  readonly #xattrs: boolean;
  /** Names to map to this machine's ids, unless `numericOwner`. */
  readonly #owners: OwnerNames | undefined;

  constructor(repo: ChunkSource, options: RestorerOptions = {}) {
    this.#repo = repo;
    this.#concurrency = options.concurrency ?? 8;
    this.#owner = options.restoreOwner ?? process.getuid?.() === 0;
    this.#onEvent = options.onEvent ?? (() => undefined);
    this.#maxOpenDirs = options.maxOpenDirs;
    this.#sparse = options.sparse ?? true;
    this.#xattrs = options.xattrs ?? true;
    this.#owners = options.numericOwner ? undefined : (options.owners ?? new OwnerNames());
  }

  /**
   * Picks entries: each requested path that is a file or symlink selects itself; a directory selects the files
   * directly in it, or its whole subtree with `recursive` (directories included, to restore their metadata).
   */
  static select(tree: Map<string, FileEntry>, paths: readonly string[], recursive: boolean): Selection {
    return selectEntries(tree, paths, recursive);
  }

  /**
   * Restores entries under `target` (created if missing; it may be a symlink the caller named, followed once). Needs
   * /proc (names are resolved relative to open directories through /proc/self/fd); fails before writing without it.
   */
  async restore(entries: readonly FileEntry[], target: string): Promise<RestoreResult> {
    return this.restoreFrom(arraySource(entries), target);
  }

  /**
   * Restores what `source` gives, as {@link restore} does, holding one of its pieces at a time: a selection streamed
   * from a tree on disk restores in memory bounded by its piece size (and by the hard-linked files, grouped across
   * pieces), not by the size of the tree.
   */
  async restoreFrom(source: RestoreSource, target: string): Promise<RestoreResult> {
    const root = resolve(target);
    await mkdir(fsPath(root), { recursive: true });
    const top = OpenDir.openTarget(root);
    const cache = new DirCache(top, root, this.#maxOpenDirs === undefined ? {} : { maxIdle: this.#maxOpenDirs });
    try {
      return await this.#restoreInto(cache, source, root);
    } finally {
      cache.closeAll();
      top.close();
    }
  }

  /** Places each entry under the target; one whose path could escape it is left out (and reported, given `report`). */
  #place(entries: readonly FileEntry[], root: string, report?: RestoreResult): Placed[] {
    const placed: Placed[] = [];
    for (const entry of entries) {
      const dest = targetPathOf(root, entry.path);
      const rel = dest === undefined ? undefined : safeRelative(entry.path);
      if (dest === undefined || rel === undefined) {
        if (!report) continue;
        report.unsafe++;
        this.#onEvent({ event: "unsafe", path: entry.path, error: "path would escape the restore target; skipped", ...sizeOf(entry) });
        continue;
      }
      placed.push({ entry, segments: rel.split("/"), dest, problems: [] });
    }
    return placed;
  }

  async #restoreInto(cache: DirCache, source: RestoreSource, root: string): Promise<RestoreResult> {
    const result: RestoreResult = { restored: 0, bytes: 0, errors: 0, unsafe: 0, incomplete: 0 };
    const run = async (item: Placed, work: () => Promise<void>) => {
      try {
        await work();
        result.restored++;
        if (item.entry.type === "file") result.bytes += item.entry.size;
        this.#onEvent({ event: "restored", path: item.entry.path, target: item.dest, type: item.entry.type, size: item.entry.size });
        if (item.problems.length) {
          result.incomplete++;
          this.#onEvent({ event: "incomplete", path: item.entry.path, target: item.dest, error: `not set: ${item.problems.join("; ")}` });
        }
      } catch (err) {
        const unsafe = err instanceof BackupError && err.code === "RESTORE_UNSAFE_PATH";
        if (unsafe) result.unsafe++;
        else result.errors++;
        this.#onEvent({ event: unsafe ? "unsafe" : "error", path: item.entry.path, error: messageOf(err), ...sizeOf(item.entry) });
      }
    };
    const links: Links<Placed> = { keys: linkedKeys(source), leaders: new Map() };
    for (const piece of source.pieces()) {
      // Every entry is placed here, so each unsafe one is reported once; symlinks wait for their own pass.
      const placed = this.#place(piece, root, result).filter((p) => !isSymlink(p.entry));
      // Directories first (mode 0700 until the end); a failure here is reported below, by the entries it affects.
      for (const d of placed.filter((p) => p.entry.type === "dir")) {
        try {
          cache.acquire(d.segments);
          cache.release(d.segments);
        } catch {
          // reported by each entry at or below it
        }
      }
      const files = placed.filter((p) => p.entry.type === "file");
      this.#repo.plan?.(files.flatMap((p) => (p.entry.type === "file" ? p.entry.chunks : [])));
      await this.#restoreFiles(cache, files, links, run);
      for (const item of placed.filter((p) => isSpecialType(p.entry.type)))
        await run(item, () => this.#inDir(cache, item.segments.slice(0, -1), async (dir) => this.#restoreNode(dir, item)));
    }
    // Symlinks once every file and node is in place, so no restored link can redirect a later write.
    for (const piece of source.pieces())
      for (const item of this.#place(piece.filter(isSymlink), root))
        await run(item, () => this.#inDir(cache, item.segments.slice(0, -1), async (dir) => this.#restoreLink(dir, item)));
    // Directory metadata last, deepest first, so writing into them does not disturb their mtime; parents stay 0700
    // (searchable by us) until their own turn.
    for (const piece of source.directoriesDeepestFirst())
      for (const item of this.#place(piece, root)) await run(item, () => this.#inDir(cache, item.segments, async (dir) => dir.applyMeta(this.#meta(item))));
    return result;
  }

  /**
   * Regular files, `concurrency` at a time. Names of one inode (hard links, {@link linkedKeys}): the first met, in
   * this piece or an earlier one, is restored as a file, the others become links to it afterwards.
   */
  async #restoreFiles(
    cache: DirCache,
    files: readonly Placed[],
    links: Links<Placed>,
    run: (item: Placed, work: () => Promise<void>) => Promise<void>,
  ): Promise<void> {
    const { firsts, followers, leaderOf } = groupLinks(files, links);
    const restoreFile = (item: Placed) =>
      this.#inDir(cache, item.segments.slice(0, -1), async (dir) => {
        const inode = await this.#restoreFile(dir, item);
        const leader = leaderOf.get(item);
        if (leader) leader.inode = inode;
      });
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(this.#concurrency, firsts.length) }, async () => {
        while (next < firsts.length) {
          const item = firsts[next++]!;
          await run(item, () => restoreFile(item));
        }
      }),
    );
    for (const [item, leader] of followers) await run(item, () => this.#restoreHardLink(cache, item, leader.item, leader.inode, () => restoreFile(item)));
  }

  /** Runs `work` with the open directory at `segments`, releasing it afterwards. */
  async #inDir<T>(cache: DirCache, segments: readonly string[], work: (dir: OpenDir) => Promise<T>): Promise<T> {
    const dir = cache.acquire(segments);
    try {
      return await work(dir);
    } finally {
      cache.release(segments);
    }
  }

  #meta({ entry, problems }: Placed): Meta {
    const owner = this.#owner ? this.ownerOf(entry) : undefined;
    return { owner, mode: entry.mode & 0o7777, time: entry.mtimeMs / 1000, xattrs: this.#xattrs ? entry.xattrs : undefined, problems };
  }

  /** The ids a restore as root gives an entry: this machine's ids for its recorded names, else the recorded ids. */
  ownerOf(entry: FileEntry): { uid: number; gid: number } {
    const uid = entry.user === undefined ? undefined : this.#owners?.uidOf(entry.user);
    const gid = entry.group === undefined ? undefined : this.#owners?.gidOf(entry.group);
    return { uid: uid ?? entry.uid, gid: gid ?? entry.gid };
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
      throw sizeMismatch(entry, written);
    }
  }

  /**
   * Writes a file under a temporary name created in its (open) directory with O_EXCL|O_NOFOLLOW, sets owner, mode
   * and times on the open fd, then renames it into place within the same directory.
   */
  async #restoreFile(dir: OpenDir, item: Placed): Promise<number> {
    const { entry } = item;
    const name = encodeName(item.segments.at(-1)!);
    const temp = Buffer.concat([Buffer.from("."), name.subarray(0, 40), Buffer.from(`.rtb-restore-${randomBytes(6).toString("hex")}`)]);
    if (entry.chunks.length <= 1) {
      // One chunk at most: fetched first, then the file is made in one synchronous step (OpenDir.placeFileSync).
      const data = entry.chunks.length === 0 ? Buffer.alloc(0) : await this.#chunk(entry.chunks[0]!);
      if (data.length !== entry.size) throw sizeMismatch(entry, data.length);
      return dir.placeFileSync(temp, name, data, this.#meta(item), item.dest, this.#sparse);
    }
    const handle = await dir.createFile(temp);
    try {
      let written = 0;
      // Fetch ahead: about READ_AHEAD_BYTES of a large file (3 chunks at least) are downloaded while earlier ones are
      // written, so a store's latency overlaps the writes, and a v2 pack run is asked for before its first blob is due.
      const depth = Math.max(3, Math.ceil(READ_AHEAD_BYTES / (entry.size / entry.chunks.length)));
      const ahead: Promise<Buffer>[] = [];
      const fetch = (i: number) => {
        const p = this.#chunk(entry.chunks[i]!);
        p.catch(() => undefined);
        ahead.push(p);
      };
      for (let i = 0; i < Math.min(depth, entry.chunks.length); i++) fetch(i);
      let holes = false;
      for (let i = 0; i < entry.chunks.length; i++) {
        const data = await ahead.shift()!;
        if (i + depth < entry.chunks.length) fetch(i + depth);
        // Zero blocks are not written: the file is fresh, so what is skipped reads back as zeros (a hole).
        const { runs, skipped } = dataRuns(data, written, this.#sparse);
        holes ||= skipped;
        for (const { from, to } of runs) await handle.write(data, from, to - from, written + from);
        written += data.length;
      }
      if (written !== entry.size) {
        throw sizeMismatch(entry, written);
      }
      // A file that ends in a hole is extended to its size without writing it.
      if (holes) await handle.truncate(written);
      await OpenDir.applyFileMeta(handle, this.#meta(item));
    } catch (err) {
      await handle.close();
      dir.remove(temp);
      throw err;
    }
    const { ino } = await handle.stat().finally(() => handle.close());
    try {
      dir.renameChecked(temp, name, ino, item.dest);
    } catch (err) {
      dir.remove(temp);
      throw err;
    }
    return ino;
  }

  /**
   * Makes `item` a hard link of `leader`, restored as inode `ino`. When the leader was not restored, or the link
   * cannot be made (a filesystem without hard links, too many links), `item` is restored as a file of its own: its
   * content is the same, only the sharing is lost.
   */
  async #restoreHardLink(cache: DirCache, item: Placed, leader: Placed, ino: number | undefined, alone: () => Promise<void>): Promise<void> {
    if (ino === undefined) return alone();
    const name = encodeName(item.segments.at(-1)!);
    const temp = Buffer.from(`.rtb-restore-hardlink-${randomBytes(6).toString("hex")}`);
    try {
      await this.#inDir(cache, leader.segments.slice(0, -1), (from) =>
        this.#inDir(cache, item.segments.slice(0, -1), async (dir) => dir.placeHardLink(from, encodeName(leader.segments.at(-1)!), ino, temp, name, item.dest)),
      );
    } catch (err) {
      if (err instanceof BackupError && err.code === "RESTORE_UNSAFE_PATH") throw err;
      await alone();
    }
  }

  /** Creates a FIFO or device node under a temporary name in its (open) directory, sets its metadata, renames it. */
  #restoreNode(dir: OpenDir, item: Placed): void {
    const { entry } = item;
    const temp = Buffer.from(`.rtb-restore-node-${randomBytes(6).toString("hex")}`);
    const device = { major: entry.major ?? 0, minor: entry.minor ?? 0 };
    dir.placeNode(entry.type as SpecialType, device, temp, encodeName(item.segments.at(-1)!), this.#meta(item), item.dest);
  }

  /** Creates a symlink under a temporary name in its (open) directory, sets its owner and times, renames it. */
  #restoreLink(dir: OpenDir, item: Placed): void {
    const { mode: _mode, ...meta } = this.#meta(item);
    const temp = Buffer.from(`.rtb-restore-link-${randomBytes(6).toString("hex")}`);
    dir.placeLink(item.entry.target ?? "", temp, encodeName(item.segments.at(-1)!), meta, item.dest);
  }
}

const isSymlink = (e: FileEntry) => e.type === "symlink";

/** A file's size, for the events of one that was not restored. */
const sizeOf = (e: FileEntry) => (e.type === "file" ? { size: e.size } : {});

/** The error for content whose verified chunks do not add up to the size the index records. */
function sizeMismatch(entry: FileEntry, bytes: number): BackupError {
  return new BackupError("INTEGRITY", `${entry.path}: content is ${bytes} bytes, the index says ${entry.size}`);
}
