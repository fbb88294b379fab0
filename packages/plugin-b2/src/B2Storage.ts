import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { StorageError, keyProblem, type Body, type ByteRange, type ObjectInfo, type StorageBackend } from "@rtbackup/core";
import { sendRequest } from "backblaze-b2/lib/request.js";
import { b2NameProblem } from "./fileNames.js";
import { B2Session } from "./B2Session.js";
import { emptyStats, type B2StorageStats } from "./B2StorageStats.js";
import { MAX_SINGLE_UPLOAD, parseB2StorageOptions, type B2StorageOptions, type OptionNamer, type ResolvedB2StorageOptions } from "./B2StorageOptions.js";
import { INFO_OWNER, INFO_SESSION, planPartSize, uploadLargeFile } from "./largeFileUpload.js";
import { uploadSingle } from "./singleUpload.js";
import { UploadUrlPool } from "./UploadUrlPool.js";
import { verifiedDownload } from "./verifiedDownload.js";

interface B2File {
  fileName: string;
  fileId: string;
  action: string;
  contentLength: number;
  fileInfo?: Record<string, string>;
}

/**
 * A {@link StorageBackend} on Backblaze B2's native API, through `backblaze-b2` with B2's own retry rules (see
 * {@link B2Session}). Objects up to `largeFileThreshold` are single uploads with their SHA-1; larger ones use the
 * large-file API with parallel parts. Downloads stream and are verified against the stored SHA-1. Keys are stored
 * as given under `namePrefix`. The constructor does no I/O: the first operation authorizes and cancels unfinished
 * large files this owner left behind (a crash mid-upload).
 */
export class B2Storage implements StorageBackend {
  readonly description: string;
  readonly #o: ResolvedB2StorageOptions;
  readonly #stats: B2StorageStats = emptyStats();
  readonly #session: B2Session;
  readonly #uploadUrls: UploadUrlPool;
  readonly #sessionTag = randomBytes(8).toString("hex");
  #opening: Promise<void> | undefined;
  #bucketName: string | undefined;

  /** Validates options (a bad one throws a ConfigError naming it); `where` names options in those errors. */
  constructor(options: B2StorageOptions, where?: OptionNamer) {
    this.#o = parseB2StorageOptions(options, where);
    this.description = `b2:${this.#o.bucketId}/${this.#o.namePrefix}`;
    this.#session = new B2Session(this.#o, this.#stats);
    this.#uploadUrls = new UploadUrlPool(async () => {
      this.#stats.uploadUrlsFetched += 1;
      const res = await this.#session.call("b2_get_upload_url", () =>
        this.#session.b2.getUploadUrl({ bucketId: this.#o.bucketId, axiosOverride: this.#session.request() }),
      );
      const data = res!.data as { uploadUrl: string; authorizationToken: string };
      return { uploadUrl: data.uploadUrl, authorizationToken: data.authorizationToken, fetchedAt: Date.now() };
    });
  }

  /** A copy of this backend's counters (calls, retries, re-authorizations, bytes). No secrets. */
  get stats(): B2StorageStats {
    return structuredClone(this.#stats);
  }

  /**
   * Authorizes and cancels this owner's unfinished large files. Every operation calls it first; call it at start-up
   * to find bad credentials early. Idempotent; after a failure the next call tries again.
   */
  open(): Promise<void> {
    if (!this.#opening) {
      const opening = this.#open();
      this.#opening = opening;
      opening.catch(() => {
        if (this.#opening === opening) this.#opening = undefined;
      });
    }
    return this.#opening;
  }

  async put(key: string, body: Body, size: number): Promise<void> {
    const name = this.#name(key);
    if (!Number.isSafeInteger(size) || size < 0)
      throw new StorageError("STORAGE_FAILED", `put "${key}": size must be a whole number of bytes`, { key, transient: false });
    await this.open();
    if (size > this.#o.largeFileThreshold || size > MAX_SINGLE_UPLOAD) {
      const auth = await this.#session.auth();
      const partSize = planPartSize(size, this.#o.largeFileChunkSize, auth.minimumPartSize);
      if (partSize !== undefined) {
        await uploadLargeFile(this.#session, {
          key,
          name,
          body,
          size,
          partSize,
          bucketId: this.#o.bucketId,
          partConcurrency: this.#o.partConcurrency,
          requestTimeoutMs: this.#o.requestTimeoutMs,
          owner: this.#o.owner,
          sessionTag: this.#sessionTag,
        });
        return;
      }
    }
    await uploadSingle(this.#session, this.#uploadUrls, { key, name, body, size, requestTimeoutMs: this.#o.requestTimeoutMs });
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const name = this.#name(key);
    if (range && !(Number.isSafeInteger(range.start) && Number.isSafeInteger(range.end) && range.start >= 0 && range.end >= range.start)) {
      throw new StorageError("STORAGE_FAILED", `get "${key}": invalid range ${range.start}-${range.end}`, { key, transient: false });
    }
    await this.open();
    const bucketName = await this.#bucket();
    return verifiedDownload(
      this.#session,
      async (from, end) => {
        const ranged = from > 0 || end !== undefined;
        const res = await this.#session.call(
          "b2_download_file_by_name",
          () =>
            this.#session.b2.downloadFileByName({
              bucketName,
              fileName: name,
              responseType: "stream",
              axiosOverride: this.#session.request(ranged ? { headers: { Range: `bytes=${from}-${end ?? ""}` } } : {}),
            }),
          { key, tolerate: (f) => f.kind === "notFound" },
        );
        if (!res) throw new StorageError("STORAGE_NOT_FOUND", `get "${key}": no such object in B2`, { key, transient: false });
        return res;
      },
      { key, range, maxAttempts: this.#o.maxAttempts, idleTimeoutMs: this.#o.requestTimeoutMs },
    );
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const name = this.#name(key);
    await this.open();
    const bucketName = await this.#bucket();
    // HEAD on the download URL: a class B transaction, where a listing would be class C.
    const res = await this.#session.call(
      "b2_download_file_by_name",
      () =>
        this.#session.b2.downloadFileByName({
          bucketName,
          fileName: name,
          responseType: "arraybuffer",
          axiosOverride: this.#session.request({ method: "HEAD" }),
        }),
      { key, tolerate: (f) => f.kind === "notFound" },
    );
    if (!res) return undefined;
    return { key, size: Number(res.headers["content-length"] ?? 0) };
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const full = this.#o.namePrefix + prefix;
    await this.open();
    let start: string | null = full;
    while (start !== null) {
      const from: string = start;
      const res = await this.#session.call("b2_list_file_names", () =>
        this.#session.b2.listFileNames({
          bucketId: this.#o.bucketId,
          prefix: full,
          startFileName: from,
          maxFileCount: this.#o.listPageSize,
          axiosOverride: this.#session.request(),
        }),
      );
      const page = res!.data as { files: B2File[]; nextFileName: string | null };
      for (const file of page.files) {
        if (file.action === "upload" && file.fileName.startsWith(full)) {
          yield { key: file.fileName.slice(this.#o.namePrefix.length), size: file.contentLength };
        }
      }
      start = page.nextFileName;
    }
  }

  async delete(key: string): Promise<void> {
    const name = this.#name(key);
    await this.open();
    if (this.#o.deleteMode === "hide") {
      await this.#session.call(
        "b2_hide_file",
        () => this.#session.b2.hideFile({ bucketId: this.#o.bucketId, fileName: name, axiosOverride: this.#session.request() }),
        { key, tolerate: (f) => f.b2Code === "no_such_file" || f.b2Code === "already_hidden" },
      );
      return;
    }
    const handled = new Set<string>();
    for (;;) {
      const res = await this.#session.call("b2_list_file_versions", () =>
        this.#session.b2.listFileVersions({
          bucketId: this.#o.bucketId,
          startFileName: name,
          maxFileCount: 100,
          // The library sends no prefix; the override is deep-merged into the request body.
          axiosOverride: this.#session.request({ data: { prefix: name } }),
        }),
      );
      const versions = (res!.data as { files: B2File[] }).files.filter((f) => f.fileName === name);
      if (versions.length === 0) return;
      for (const version of versions) {
        if (handled.has(version.fileId)) {
          throw new StorageError("STORAGE_FAILED", `delete "${key}": version ${version.fileId} is still listed after deleting it`, { key });
        }
        handled.add(version.fileId);
        await this.#deleteVersion(key, version);
      }
    }
  }

  async canDelete(): Promise<boolean> {
    const auth = await this.#session.auth();
    return auth.capabilities.includes(this.#o.deleteMode === "hide" ? "writeFiles" : "deleteFiles");
  }

  async close(): Promise<void> {
    this.#session.close();
    this.#uploadUrls.clear();
  }

  async #deleteVersion(key: string, version: B2File): Promise<void> {
    if (version.action === "start") {
      await this.#session.call(
        "b2_cancel_large_file",
        () => this.#session.b2.cancelLargeFile({ fileId: version.fileId, axiosOverride: this.#session.request() }),
        { key, tolerate: (f) => f.kind === "client" },
      );
      return;
    }
    await this.#session.call(
      "b2_delete_file_version",
      () => this.#session.b2.deleteFileVersion({ fileId: version.fileId, fileName: version.fileName, axiosOverride: this.#session.request() }),
      { key, tolerate: (f) => f.b2Code === "file_not_present" },
    );
  }

  #name(key: string): string {
    const problem = keyProblem(key);
    const full = this.#o.namePrefix + key;
    const b2Problem = problem ?? b2NameProblem(full);
    if (b2Problem) throw new StorageError("STORAGE_FAILED", `invalid key "${key}": ${b2Problem}`, { key, transient: false });
    return full;
  }

  async #open(): Promise<void> {
    const auth = await this.#session.auth();
    if (!this.#o.cancelStaleLargeFiles) return;
    if (!auth.capabilities.includes("listFiles") || !auth.capabilities.includes("writeFiles")) return;
    try {
      await this.#cancelStaleLargeFiles();
    } catch (err) {
      if (this.#session.signal.aborted) throw err;
      this.#o.logger?.warn(`could not cancel unfinished large files left by an earlier run: ${(err as Error).message}`);
    }
  }

  async #cancelStaleLargeFiles(): Promise<void> {
    let startFileId: string | null = null;
    do {
      const from: string | null = startFileId;
      // backblaze-b2 does not implement b2_list_unfinished_large_files; its generic request path is used instead.
      const res = await this.#session.call("b2_list_unfinished_large_files", () =>
        sendRequest({
          ...this.#session.request(),
          url: `${this.#session.b2.apiUrl}/b2api/v2/b2_list_unfinished_large_files`,
          method: "POST",
          headers: { Authorization: this.#session.b2.authorizationToken },
          data: {
            bucketId: this.#o.bucketId,
            maxFileCount: 100,
            ...(this.#o.namePrefix ? { namePrefix: this.#o.namePrefix } : {}),
            ...(from ? { startFileId: from } : {}),
          },
        }),
      );
      const page = res!.data as { files: B2File[]; nextFileId: string | null };
      for (const file of page.files) {
        if (file.fileInfo?.[INFO_OWNER] !== this.#o.owner || file.fileInfo?.[INFO_SESSION] === this.#sessionTag) continue;
        await this.#session.call(
          "b2_cancel_large_file",
          () => this.#session.b2.cancelLargeFile({ fileId: file.fileId, axiosOverride: this.#session.request() }),
          { key: file.fileName, tolerate: (f) => f.kind === "client" },
        );
        this.#stats.staleLargeFilesCancelled += 1;
        this.#o.logger?.info(`cancelled an unfinished large file left by an earlier run: ${file.fileName}`);
      }
      startFileId = page.nextFileId;
    } while (startFileId);
  }

  async #bucket(): Promise<string> {
    if (this.#bucketName) return this.#bucketName;
    const auth = await this.#session.auth();
    if (auth.bucketName) return (this.#bucketName = auth.bucketName);
    const res = await this.#session.call("b2_list_buckets", () =>
      this.#session.b2.getBucket({ bucketId: this.#o.bucketId, axiosOverride: this.#session.request() }),
    );
    const bucket = (res!.data as { buckets: { bucketId: string; bucketName: string }[] }).buckets.find((b) => b.bucketId === this.#o.bucketId);
    if (!bucket) throw new StorageError("STORAGE_FAILED", "RemoteStorageBucketID names no bucket this key can see", { transient: false });
    return (this.#bucketName = bucket.bucketName);
  }
}
