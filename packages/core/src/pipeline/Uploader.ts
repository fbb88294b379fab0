import { isErrno, messageOf } from "../errors.js";
import { LinkNames } from "./LinkNames.js";
import { entryTypeOf } from "../entryTypes.js";
import { observe } from "../hooks.js";
import type { Logger } from "../logger.js";
import { isV2, type AnyRepository } from "../repository/openRepository.js";
import type { CachedEntry, StateCache } from "../state/StateCache.js";
import { OwnerNames } from "../owners/OwnerNames.js";
import { sameEntry, settledIdentity } from "./identity.js";
import type { BackupAction, FileEntry } from "../types.js";
import type { IndexCommitter } from "./LaneCommitter.js";
import type { StageContext } from "./StageContext.js";
import { encodeName } from "../fsNames.js";
import { readEntryXattrs, readEntryXattrsSync, type ReadXattrs } from "../xattrs/xattrs.js";
import { SMALL_FILE_BYTES, entryOf, identityOf, readChunks, readLinkTarget, readSmallFileSync, statPath, statPathSync, type Chunking } from "./FileReader.js";

/** An upload in progress, for stats. */
export interface UploadProgress {
  path: string;
  size: number;
  bytesDone: number;
  startedAt: number;
}

/** Options of {@link Uploader}. */
export interface UploaderOptions {
  context: StageContext;
  repository: AnyRepository;
  cache: StateCache;
  committer: IndexCommitter;
  /** Submits a path as changed: the other names of a hard-linked file committed with a change ({@link LinkNames}). */
  resubmit?: (path: string) => void;
}

/** Where the upload stage puts content: how files are cut, and how one chunk is stored. */
interface ContentStore {
  readonly chunking: Chunking;
  /** A chunk's id: SHA-256, or the keyed id of an encrypted repository. */
  readonly idOf?: (data: Uint8Array) => string;
  /** v1: one object per chunk; v2: appended to the open pack (stored at the next commit or when it fills). */
  put(id: string, data: Buffer): Promise<void>;
}

function contentStoreOf(repo: AnyRepository): ContentStore {
  if (isV2(repo)) return { chunking: repo.chunker, idOf: repo.cipher.blobId, put: (id, data) => repo.packs.add(id, data, true) };
  return { chunking: repo.config.chunkSize, put: (id, data) => repo.putChunk(id, data) };
}

/**
 * Stage 6: performs actions. An upload reads the file (from its snapshot path when it has one) in chunks, stores
 * the chunks not yet stored, and hands a put record to the committer; unchanged content is never sent again. A
 * file that vanished becomes a delete record when it was backed up. Moves and deletes are index records only.
 */
export class Uploader {
  readonly #o: UploaderOptions;
  readonly #log: Logger;
  readonly #content: ContentStore;
  readonly inProgress = new Map<string, UploadProgress>();
  /** Chunks stored by this process whose index record is not committed yet (the state cache learns them then). */
  readonly #freshChunks = new Set<string>();
  readonly #puttingChunks = new Map<string, Promise<void>>();
  readonly stats = { files: 0, bytes: 0, bytesUploaded: 0, chunksUploaded: 0, unchanged: 0, moves: 0, deletes: 0, skipped: 0 };
  /** Special files met and not backed up, by kind (each time one is met: a rescan meets it again). */
  readonly skippedByKind: Record<SpecialKind, number> = { fifo: 0, socket: 0, "character device": 0, "block device": 0 };
  /** User and group names recorded beside the ids. */
  readonly #owners = new OwnerNames();
  /** Names of hard-linked files (scans note them), so that a change through one name reaches the others. */
  readonly links: LinkNames;
  /** Paths already warned about, so that a rescan does not warn again (bounded: past it, counted only). */
  readonly #warned = new Set<string>();

  constructor(options: UploaderOptions) {
    this.#o = options;
    this.#log = options.context.logger("upload");
    this.#content = contentStoreOf(options.repository);
    this.links = new LinkNames(options.cache, options.context.parameters.backupRoots);
  }

  /** A change committed through one name of a hard-linked file: its other names are changes too. */
  #linkedChange(path: string): void {
    const { resubmit } = this.#o;
    if (!resubmit) return;
    this.links
      .changed(path, resubmit)
      .catch((err: unknown) => this.#log.warn(`the other names of ${path} are brought up to date at the next rescan: ${messageOf(err)}`));
  }

  /** Forgets fresh chunks once the state cache knows them (called after each commit). */
  forgetCommittedChunks(): void {
    for (const id of this.#freshChunks) if (this.#o.cache.hasChunk(id)) this.#freshChunks.delete(id);
  }

  /** The action handler for the {@link ActionQueue}. */
  readonly handle = async (action: BackupAction): Promise<void> => {
    switch (action.type) {
      case "upload": {
        // The stats read below show the file as of the snapshot's moment (a live read: a moment after now).
        const readAt = action.source === action.path ? Date.now() : Math.min(Date.now(), action.snapshot?.createdAt ?? Infinity);
        await this.#o.committer.beforeUpload?.();
        return this.#upload(action.path, action.source, action.stats, action.xattrs, readAt);
      }
      case "delete":
        this.stats.deletes++;
        void this.#o.committer.add({ op: "delete", path: action.path });
        return;
      case "move":
        this.stats.moves++;
        void this.#o.committer.add({ op: "move", from: action.from, to: action.to });
        return;
    }
  };

  /** Hands the entry to the committer; true when it is a change (not the cached entry again). */
  #record(unnamed: FileEntry, stats: import("node:fs").Stats, readAt: number, cached: CachedEntry | undefined, attrs: ReadXattrs): boolean {
    const user = this.#owners.userOf(unnamed.uid);
    const group = this.#owners.groupOf(unnamed.gid);
    const { xattrs, skipped } = attrs;
    if (skipped.length) this.#warnOnce(unnamed.path, `${unnamed.path}: extended attributes not backed up: ${skipped.join("; ")}`);
    const entry = {
      ...unnamed,
      ...(user !== undefined ? { user } : {}),
      ...(group !== undefined ? { group } : {}),
      ...(xattrs !== undefined ? { xattrs } : {}),
    };
    const identity = settledIdentity(identityOf(stats), readAt);
    if (cached && sameEntry(cached, entry)) {
      this.stats.unchanged++;
      // Nothing for the index; remember the new local identity so the next rescan does not read it again.
      if (cached.ctimeMs !== identity.ctimeMs || cached.ino !== identity.ino) {
        void this.#o.committer.add({ op: "put", ...entry }, identity, true);
      }
      return false;
    }
    void this.#o.committer.add({ op: "put", ...entry }, identity);
    return true;
  }

  /**
   * Stores one chunk unless it is stored already (known to the state cache, or stored by this process and not yet
   * committed); true when this call sent it. The same content twice at once (zero-filled regions of an image, copies
   * of a file) is stored once: the second waits for the first.
   */
  async #storeChunk(id: string, data: Buffer): Promise<boolean> {
    const already = this.#puttingChunks.get(id);
    if (already) {
      await already;
      return false;
    }
    if (this.#freshChunks.has(id) || this.#o.cache.hasChunk(id)) return false;
    const put = this.#content.put(id, data);
    this.#puttingChunks.set(id, put);
    try {
      await put;
    } finally {
      this.#puttingChunks.delete(id);
    }
    this.#freshChunks.add(id);
    return true;
  }

  async #upload(path: string, source: string, metadata: import("node:fs").Stats | undefined, xattrs: ReadXattrs | undefined, readAt: number): Promise<void> {
    const cached = this.#o.cache.get(path);
    // Synchronous calls (microseconds on a local disk) only on the live path or a staging copy: a snapshot view may be
    // a FUSE mount, whose calls go through the thread pool so that a stuck one never stops the event loop.
    const local = source === path || metadata !== undefined;
    let info;
    try {
      info = local ? statPathSync(source) : await statPath(source);
    } catch (err) {
      if (isErrno(err, "ENOENT", "ENOTDIR")) {
        if (cached) {
          this.stats.deletes++;
          void this.#o.committer.add({ op: "delete", path });
        }
        return;
      }
      throw err;
    }
    const { type, stats } = info;
    if (!this.records(type)) {
      this.skipSpecial(path, stats);
      return;
    }
    if (type !== "file" && type !== "other") {
      // Metadata only. A directory's, symlink's or node's own attributes, by path (the last component not followed;
      // a FIFO or device is never opened).
      const attrs = local ? readEntryXattrsSync(encodeName(source)) : await readEntryXattrs(encodeName(source));
      const target = type === "symlink" ? await readLinkTarget(source) : undefined;
      this.#record(entryOf(path, type, stats, [], target), stats, readAt, cached, attrs);
      return;
    }
    await this.#uploadFile(path, source, { stats, metadata, xattrs, cached, local, readAt });
  }

  /**
   * Whether an entry of this type ({@link entryTypeOf}) is recorded: files, directories and symlinks always; FIFOs
   * and device nodes in a format 2 repository (format 1 has no entry type for them); UNIX sockets never.
   */
  records(type: FileEntry["type"] | "other"): boolean {
    return type === "file" || type === "dir" || type === "symlink" || (type !== "other" && isV2(this.#o.repository));
  }

  /** A socket (or, in format 1, a FIFO or device): counted by kind, and a warning the first time this process meets its path. */
  skipSpecial(path: string, stats: import("@rtbackup/linux-fs").EntryStats): void {
    const kind = specialKind(stats);
    this.stats.skipped++;
    this.skippedByKind[kind]++;
    const why =
      kind === "socket"
        ? "a socket is only a name a server binds while it runs, made again when it starts; an inert copy could not be connected to"
        : "a format 1 repository has no entry type for FIFOs and device files; format 2 keeps them";
    this.#warnOnce(path, `${path} is a ${specialKindName(kind)}: not backed up (${why})`);
  }

  /** A warning the first time this process meets `path` (bounded: past 10,000 paths, counted only). */
  #warnOnce(path: string, message: string): void {
    if (this.#warned.has(path) || this.#warned.size >= 10_000) return;
    this.#warned.add(path);
    this.#log.warn(message);
  }

  /** Reads a regular file's content, stores the chunks not stored yet, and records it. */
  async #uploadFile(
    path: string,
    source: string,
    o: {
      stats: import("node:fs").Stats;
      metadata: import("node:fs").Stats | undefined;
      xattrs: ReadXattrs | undefined;
      cached: CachedEntry | undefined;
      local: boolean;
      readAt: number;
    },
  ): Promise<void> {
    const { stats, metadata, cached, local, readAt } = o;
    const hooks = this.#o.context.hooks;
    const progress: UploadProgress = { path, size: stats.size, bytesDone: 0, startedAt: this.#o.context.clock.now() };
    this.inProgress.set(path, progress);
    const started = hooks.uploadStarted.isUsed();
    if (started) observe(hooks.uploadStarted, { path, size: stats.size }, this.#log);
    let bytesUploaded = 0;
    let chunksUploaded = 0;
    try {
      const sink = async (id: string, data: Buffer) => {
        if (await this.#storeChunk(id, data)) {
          bytesUploaded += data.length;
          chunksUploaded++;
        }
        progress.bytesDone += data.length;
      };
      // A small local file (most of a tree) is read at once with synchronous calls; a larger one, one in a snapshot
      // view, or one that is no longer a small regular file when opened, in chunks through the thread pool.
      const { chunking, idOf } = this.#content;
      const small = local && stats.size <= SMALL_FILE_BYTES ? await readSmallFileSync(source, path, chunking, sink, idOf) : undefined;
      const { chunks, stats: after, xattrs } = small ?? (await readChunks(source, path, chunking, sink, 3, idOf));
      this.stats.files++;
      this.stats.bytes += after.size;
      this.stats.bytesUploaded += bytesUploaded;
      this.stats.chunksUploaded += chunksUploaded;
      const meta = metadata ?? after;
      const changed = this.#record(entryOf(path, "file", meta, chunks), meta, readAt, cached, o.xattrs ?? xattrs);
      if (changed && meta.nlink > 1) this.#linkedChange(path);
      if (hooks.uploaded.isUsed()) {
        observe(hooks.uploaded, { path, size: after.size, bytesUploaded, chunksUploaded, chunksTotal: chunks.length }, this.#log);
      }
    } finally {
      this.inProgress.delete(path);
    }
  }
}

/** The kinds of entry a backup meets and does not back up (the keys of `skippedByKind`). */
export type SpecialKind = "fifo" | "socket" | "character device" | "block device";

/** A kind as a message names it ("FIFO", "socket", ...). */
export function specialKindName(kind: string): string {
  return kind === "fifo" ? "FIFO" : kind;
}

const SPECIAL_KINDS: Record<string, SpecialKind> = { fifo: "fifo", chardev: "character device", blockdev: "block device" };

function specialKind(stats: import("@rtbackup/linux-fs").EntryStats): SpecialKind {
  return SPECIAL_KINDS[entryTypeOf(stats)] ?? "socket";
}
