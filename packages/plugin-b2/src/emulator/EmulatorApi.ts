import { randomBytes } from "node:crypto";
import { checkName, type B2Capability, type EmulatorAuth, type EmulatorKey } from "./EmulatorAuth.js";
import type { EmulatorBucket, FolderEntry, StoredVersion } from "./EmulatorBucket.js";
import { ApiError, badRequest, fileJson, int, optStr, str, type Params } from "./emulatorHttp.js";
import { EmulatorLargeFiles } from "./EmulatorLargeFiles.js";
import { LIST_RESULTS_PER_TRANSACTION, type B2ApiName } from "./transactionClasses.js";

/** What a JSON call returns: the body, and how many transactions it is billed as (list calls). */
export interface ApiResult {
  body: unknown;
  billed?: number;
  fileName?: string;
  fileId?: string;
}

/** Shared state the handlers work on. */
export interface EmulatorContext {
  readonly auth: EmulatorAuth;
  readonly buckets: Map<string, EmulatorBucket>;
  readonly baseUrl: () => string;
  readonly minimumPartSize: number;
  readonly recommendedPartSize: number;
  readonly violation: (message: string) => void;
  readonly newFileId: (bucketId: string) => string;
  /** Waits the configured extra latency of a call (uploads wait while they hold their URL). */
  readonly latency: (api: B2ApiName) => Promise<void>;
}

/** The JSON calls of the B2 native API (everything but uploads and downloads). */
export class EmulatorApi {
  readonly #ctx: EmulatorContext;
  readonly #largeFiles: EmulatorLargeFiles;

  constructor(ctx: EmulatorContext) {
    this.#ctx = ctx;
    this.#largeFiles = new EmulatorLargeFiles(ctx, this);
  }

  /** Runs one JSON call. */
  call(api: B2ApiName, p: Params, token: string | undefined): ApiResult {
    switch (api) {
      case "b2_list_buckets":
        return this.#listBuckets(p, this.key(token, "listBuckets"));
      case "b2_get_upload_url":
        return this.#getUploadUrl(p, this.key(token, "writeFiles"));
      case "b2_start_large_file":
        return this.#largeFiles.start(p, this.key(token, "writeFiles"));
      case "b2_get_upload_part_url":
        return this.#largeFiles.getUploadPartUrl(p, this.key(token, "writeFiles"));
      case "b2_finish_large_file":
        return this.#largeFiles.finish(p, this.key(token, "writeFiles"));
      case "b2_cancel_large_file":
        return this.#largeFiles.cancel(p, this.key(token, "writeFiles"));
      case "b2_list_unfinished_large_files":
        return this.#largeFiles.listUnfinished(p, this.key(token, "listFiles"));
      case "b2_list_parts":
        return this.#largeFiles.listParts(p, this.key(token, "writeFiles"));
      case "b2_list_file_names":
        return this.#listFileNames(p, this.key(token, "listFiles"));
      case "b2_list_file_versions":
        return this.#listFileVersions(p, this.key(token, "listFiles"));
      case "b2_hide_file":
        return this.#hideFile(p, this.key(token, "writeFiles"));
      case "b2_delete_file_version":
        return this.#deleteFileVersion(p, this.key(token, "deleteFiles"));
      case "b2_get_file_info":
        return this.#getFileInfo(p, this.key(token, "readFiles"));
      default:
        throw badRequest(`${api} is not a JSON call`);
    }
  }

  /** The bucket a call names, if the key may use it. */
  bucket(key: EmulatorKey, bucketId: string): EmulatorBucket {
    const bucket = this.#ctx.buckets.get(bucketId);
    if (!bucket) throw badRequest(`Invalid bucketId: ${bucketId}`);
    if (key.bucketId !== null && key.bucketId !== bucketId) {
      throw new ApiError(401, "unauthorized", "application key is restricted to another bucket");
    }
    return bucket;
  }

  /** Finds a file version by id in any bucket the key may use. */
  version(key: EmulatorKey, fileId: string): StoredVersion | undefined {
    for (const bucket of this.#ctx.buckets.values()) {
      const v = bucket.byId(fileId);
      if (v) {
        this.bucket(key, bucket.bucketId);
        return v;
      }
    }
    return undefined;
  }

  /** The answer of `b2_authorize_account` (v2 shape, or v3's nested one). */
  authorizeBody(token: string, key: EmulatorKey, version: number): unknown {
    const bucket = key.bucketId === null ? undefined : this.#ctx.buckets.get(key.bucketId);
    const allowed = {
      bucketId: key.bucketId,
      bucketName: bucket?.bucketName ?? null,
      capabilities: [...key.capabilities],
      namePrefix: key.namePrefix,
    };
    const minimumPartSize = this.#ctx.minimumPartSize;
    const recommendedPartSize = this.#ctx.recommendedPartSize;
    if (version >= 3) {
      return {
        accountId: this.#ctx.auth.accountId,
        authorizationToken: token,
        apiInfo: {
          storageApi: {
            apiUrl: this.#ctx.baseUrl(),
            downloadUrl: this.#ctx.baseUrl(),
            s3ApiUrl: this.#ctx.baseUrl(),
            absoluteMinimumPartSize: minimumPartSize,
            recommendedPartSize,
            ...allowed,
            infoType: "storageApi",
          },
        },
      };
    }
    return {
      accountId: this.#ctx.auth.accountId,
      authorizationToken: token,
      apiUrl: this.#ctx.baseUrl(),
      downloadUrl: this.#ctx.baseUrl(),
      s3ApiUrl: this.#ctx.baseUrl(),
      absoluteMinimumPartSize: minimumPartSize,
      recommendedPartSize,
      allowed,
    };
  }

  /** The key behind an account token, checked for expiry and a capability. */
  key(token: string | undefined, capability: B2Capability): EmulatorKey {
    return this.#ctx.auth.check(token, capability);
  }

  #listBuckets(p: Params, key: EmulatorKey): ApiResult {
    const bucketId = optStr(p, "bucketId");
    const bucketName = optStr(p, "bucketName");
    if (key.bucketId !== null && bucketId !== key.bucketId) {
      const named = bucketName ? [...this.#ctx.buckets.values()].find((b) => b.bucketName === bucketName) : undefined;
      if (!named || named.bucketId !== key.bucketId) {
        throw new ApiError(401, "unauthorized", "application key is restricted to one bucket: name it in the request");
      }
    }
    const buckets = [...this.#ctx.buckets.values()]
      .filter((b) => (bucketId === null || b.bucketId === bucketId) && (bucketName === null || b.bucketName === bucketName))
      .map((b) => ({
        accountId: this.#ctx.auth.accountId,
        bucketId: b.bucketId,
        bucketName: b.bucketName,
        bucketType: "allPrivate",
        bucketInfo: {},
        corsRules: [],
        lifecycleRules: [],
        options: [],
        revision: 1,
      }));
    return { body: { buckets } };
  }

  #getUploadUrl(p: Params, key: EmulatorKey): ApiResult {
    const bucket = this.bucket(key, str(p, "bucketId"));
    const record = this.#ctx.auth.newUploadUrl("file", bucket.bucketId, null, key);
    return {
      body: {
        bucketId: bucket.bucketId,
        uploadUrl: `${this.#ctx.baseUrl()}/b2api/v2/b2_upload_file/${bucket.bucketId}/${record.id}`,
        authorizationToken: record.token,
      },
    };
  }

  #listLimit(p: Params): number {
    const max = int(p, "maxFileCount", 100) || 100;
    if (max > 10000) throw badRequest("maxFileCount must be at most 10000");
    return max;
  }

  #listPrefix(p: Params, key: EmulatorKey): string {
    const prefix = optStr(p, "prefix") ?? "";
    if (key.namePrefix !== null && !prefix.startsWith(key.namePrefix)) {
      throw new ApiError(401, "unauthorized", "prefix is outside the application key's name prefix");
    }
    return prefix;
  }

  #listFileNames(p: Params, key: EmulatorKey): ApiResult {
    const bucket = this.bucket(key, str(p, "bucketId"));
    const page = bucket.listNames(this.#listPrefix(p, key), optStr(p, "startFileName") ?? "", this.#listLimit(p), optStr(p, "delimiter"));
    const files = page.items.map((item) =>
      item.action === "folder" ? folderJson(item as FolderEntry, bucket.bucketId) : fileJson(item as StoredVersion, this.#ctx.auth.accountId),
    );
    return { body: { files, nextFileName: page.nextFileName }, billed: billedFor(files.length) };
  }

  #listFileVersions(p: Params, key: EmulatorKey): ApiResult {
    const bucket = this.bucket(key, str(p, "bucketId"));
    const start = optStr(p, "startFileName") ?? "";
    const startFileId = optStr(p, "startFileId");
    if (startFileId && !start) throw badRequest("startFileId requires startFileName");
    const page = bucket.listVersions(this.#listPrefix(p, key), start, startFileId, this.#listLimit(p));
    const files = page.items.map((v) => fileJson(v, this.#ctx.auth.accountId));
    return { body: { files, nextFileName: page.nextFileName, nextFileId: page.nextFileId ?? null }, billed: billedFor(files.length) };
  }

  #hideFile(p: Params, key: EmulatorKey): ApiResult {
    const bucket = this.bucket(key, str(p, "bucketId"));
    const fileName = str(p, "fileName");
    checkName(key, fileName);
    const latest = bucket.latest(fileName);
    if (!latest) throw badRequest(`no such file: ${fileName}`, "no_such_file");
    if (latest.action === "hide") throw badRequest(`file already hidden: ${fileName}`, "already_hidden");
    const marker: StoredVersion = {
      fileId: this.#ctx.newFileId(bucket.bucketId),
      fileName,
      bucketId: bucket.bucketId,
      action: "hide",
      contentType: "application/x-bz-hide-marker",
      contentSha1: null,
      fileInfo: {},
      uploadTimestamp: Date.now(),
      data: Buffer.alloc(0),
    };
    bucket.add(marker);
    return { body: fileJson(marker, this.#ctx.auth.accountId), fileName, fileId: marker.fileId };
  }

  #deleteFileVersion(p: Params, key: EmulatorKey): ApiResult {
    const fileName = str(p, "fileName");
    const fileId = str(p, "fileId");
    checkName(key, fileName);
    const version = this.version(key, fileId);
    if (!version || version.fileName !== fileName) throw badRequest(`File not present: ${fileName} ${fileId}`, "file_not_present");
    this.#ctx.buckets.get(version.bucketId)!.remove(fileId);
    if (version.action === "start") this.#ctx.auth.dropPartUrls(fileId);
    return { body: { fileId, fileName }, fileName, fileId };
  }

  #getFileInfo(p: Params, key: EmulatorKey): ApiResult {
    const fileId = str(p, "fileId");
    const version = this.version(key, fileId);
    if (!version) throw new ApiError(404, "not_found", `file not present: ${fileId}`);
    return { body: fileJson(version, this.#ctx.auth.accountId), fileName: version.fileName, fileId };
  }
}

function folderJson(folder: FolderEntry, bucketId: string): Record<string, unknown> {
  return {
    action: "folder",
    bucketId,
    contentLength: 0,
    contentSha1: null,
    contentType: null,
    fileId: null,
    fileInfo: {},
    fileName: folder.fileName,
    uploadTimestamp: 0,
  };
}

function billedFor(results: number): number {
  return Math.max(1, Math.ceil(results / LIST_RESULTS_PER_TRANSACTION));
}

/** A random bucket id in B2's style (24 hex digits). */
export function randomBucketId(): string {
  return randomBytes(12).toString("hex");
}
