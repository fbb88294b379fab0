import { createHash, randomBytes } from "node:crypto";
import { b2NameProblem } from "../fileNames.js";
import type { B2Capability, EmulatorAuth, EmulatorKey } from "./EmulatorAuth.js";
import type { EmulatorBucket, FolderEntry, StoredVersion } from "./EmulatorBucket.js";
import { ApiError, badRequest, fileJson } from "./emulatorHttp.js";
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

type Params = Record<string, unknown>;

function str(p: Params, name: string): string {
  const v = p[name];
  if (typeof v !== "string" || v === "") throw badRequest(`required field ${name} is missing`);
  return v;
}

function optStr(p: Params, name: string): string | null {
  const v = p[name];
  if (v === undefined || v === null || v === "") return null;
  if (typeof v !== "string") throw badRequest(`field ${name} must be a string`);
  return v;
}

function int(p: Params, name: string, fallback: number): number {
  const v = p[name];
  if (v === undefined || v === null || v === "") return fallback;
  const n = typeof v === "number" ? v : Number(v);
  if (!Number.isInteger(n) || n < 0) throw badRequest(`field ${name} must be a non-negative integer`);
  return n;
}

/** Checks a file name against B2's rules and the key's name prefix restriction. */
export function checkName(key: EmulatorKey, name: string): void {
  const problem = b2NameProblem(name);
  if (problem) throw badRequest(`File names must follow B2's rules: ${problem}`);
  if (key.namePrefix !== null && !name.startsWith(key.namePrefix)) {
    throw new ApiError(401, "unauthorized", "file name is outside the application key's name prefix");
  }
}

/** The JSON calls of the B2 native API (everything but uploads and downloads). */
export class EmulatorApi {
  readonly #ctx: EmulatorContext;

  constructor(ctx: EmulatorContext) {
    this.#ctx = ctx;
  }

  /** Runs one JSON call. */
  call(api: B2ApiName, p: Params, token: string | undefined): ApiResult {
    switch (api) {
      case "b2_list_buckets":
        return this.#listBuckets(p, this.#key(token, "listBuckets"));
      case "b2_get_upload_url":
        return this.#getUploadUrl(p, this.#key(token, "writeFiles"));
      case "b2_start_large_file":
        return this.#startLargeFile(p, this.#key(token, "writeFiles"));
      case "b2_get_upload_part_url":
        return this.#getUploadPartUrl(p, this.#key(token, "writeFiles"));
      case "b2_finish_large_file":
        return this.#finishLargeFile(p, this.#key(token, "writeFiles"));
      case "b2_cancel_large_file":
        return this.#cancelLargeFile(p, this.#key(token, "writeFiles"));
      case "b2_list_unfinished_large_files":
        return this.#listUnfinished(p, this.#key(token, "listFiles"));
      case "b2_list_parts":
        return this.#listParts(p, this.#key(token, "writeFiles"));
      case "b2_list_file_names":
        return this.#listFileNames(p, this.#key(token, "listFiles"));
      case "b2_list_file_versions":
        return this.#listFileVersions(p, this.#key(token, "listFiles"));
      case "b2_hide_file":
        return this.#hideFile(p, this.#key(token, "writeFiles"));
      case "b2_delete_file_version":
        return this.#deleteFileVersion(p, this.#key(token, "deleteFiles"));
      case "b2_get_file_info":
        return this.#getFileInfo(p, this.#key(token, "readFiles"));
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

  #key(token: string | undefined, capability: B2Capability): EmulatorKey {
    return this.#ctx.auth.check(token, capability);
  }

  #unfinished(key: EmulatorKey, fileId: string): StoredVersion {
    const v = this.version(key, fileId);
    if (!v || v.action !== "start") throw badRequest(`No active upload for: ${fileId}`);
    return v;
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

  #startLargeFile(p: Params, key: EmulatorKey): ApiResult {
    const bucket = this.bucket(key, str(p, "bucketId"));
    const fileName = str(p, "fileName");
    checkName(key, fileName);
    const fileInfo = p["fileInfo"] ?? {};
    if (typeof fileInfo !== "object" || fileInfo === null || Array.isArray(fileInfo)) throw badRequest("fileInfo must be an object");
    const entries = Object.entries(fileInfo as Record<string, unknown>);
    if (entries.length > 10) throw badRequest("too many fileInfo entries (at most 10)");
    const info: Record<string, string> = {};
    for (const [k, v] of entries) {
      if (typeof v !== "string") throw badRequest(`fileInfo value of ${k} must be a string`);
      info[k.toLowerCase()] = v;
    }
    const version: StoredVersion = {
      fileId: this.#ctx.newFileId(bucket.bucketId),
      fileName,
      bucketId: bucket.bucketId,
      action: "start",
      contentType: optStr(p, "contentType") ?? "application/octet-stream",
      contentSha1: null,
      fileInfo: info,
      uploadTimestamp: Date.now(),
      data: Buffer.alloc(0),
      parts: new Map(),
    };
    bucket.add(version);
    return { body: fileJson(version, this.#ctx.auth.accountId), fileName, fileId: version.fileId };
  }

  #getUploadPartUrl(p: Params, key: EmulatorKey): ApiResult {
    const version = this.#unfinished(key, str(p, "fileId"));
    const record = this.#ctx.auth.newUploadUrl("part", version.bucketId, version.fileId, key);
    return {
      body: {
        fileId: version.fileId,
        uploadUrl: `${this.#ctx.baseUrl()}/b2api/v2/b2_upload_part/${version.fileId}/${record.id}`,
        authorizationToken: record.token,
      },
      fileName: version.fileName,
      fileId: version.fileId,
    };
  }

  #finishLargeFile(p: Params, key: EmulatorKey): ApiResult {
    const version = this.#unfinished(key, str(p, "fileId"));
    const sha1s = p["partSha1Array"];
    if (!Array.isArray(sha1s) || sha1s.some((s) => typeof s !== "string")) throw badRequest("partSha1Array must be an array of strings");
    if (sha1s.length < 2) throw badRequest("large files must have at least 2 parts");
    const parts = version.parts!;
    const ordered = [];
    for (let i = 1; i <= sha1s.length; i++) {
      const part = parts.get(i);
      if (!part) throw badRequest(`Part number ${i} has not been uploaded`);
      if (part.sha1 !== sha1s[i - 1]) throw badRequest(`Part number ${i} has SHA1 ${part.sha1}, not ${String(sha1s[i - 1])}`);
      if (i < sha1s.length && part.data.length < this.#ctx.minimumPartSize) {
        throw badRequest(`Part number ${i} is smaller than the minimum part size ${this.#ctx.minimumPartSize}`);
      }
      ordered.push(part.data);
    }
    if (parts.size > sha1s.length) throw badRequest(`parts beyond ${sha1s.length} were uploaded but not listed`);
    version.data = Buffer.concat(ordered);
    version.action = "upload";
    version.contentSha1 = "none";
    delete version.parts;
    this.#ctx.auth.dropPartUrls(version.fileId);
    const claimed = version.fileInfo["large_file_sha1"];
    if (claimed !== undefined && claimed !== createHash("sha1").update(version.data).digest("hex")) {
      this.#ctx.violation(`large file ${version.fileName}: large_file_sha1 does not match the assembled parts`);
    }
    return { body: fileJson(version, this.#ctx.auth.accountId), fileName: version.fileName, fileId: version.fileId };
  }

  #cancelLargeFile(p: Params, key: EmulatorKey): ApiResult {
    const version = this.#unfinished(key, str(p, "fileId"));
    this.#ctx.buckets.get(version.bucketId)!.remove(version.fileId);
    this.#ctx.auth.dropPartUrls(version.fileId);
    return {
      body: { accountId: this.#ctx.auth.accountId, bucketId: version.bucketId, fileId: version.fileId, fileName: version.fileName },
      fileName: version.fileName,
      fileId: version.fileId,
    };
  }

  #listUnfinished(p: Params, key: EmulatorKey): ApiResult {
    const bucket = this.bucket(key, str(p, "bucketId"));
    const prefix = optStr(p, "namePrefix") ?? key.namePrefix ?? "";
    const max = Math.min(int(p, "maxFileCount", 100) || 100, 100);
    let files = bucket.unfinished(prefix);
    const startFileId = optStr(p, "startFileId");
    if (startFileId) {
      const at = files.findIndex((f) => f.fileId === startFileId);
      files = at >= 0 ? files.slice(at) : [];
    }
    const page = files.slice(0, max);
    return {
      body: { files: page.map((f) => fileJson(f, this.#ctx.auth.accountId)), nextFileId: files[max]?.fileId ?? null },
    };
  }

  #listParts(p: Params, key: EmulatorKey): ApiResult {
    const version = this.#unfinished(key, str(p, "fileId"));
    const start = int(p, "startPartNumber", 1) || 1;
    const max = Math.min(int(p, "maxPartCount", 100) || 100, 1000);
    const numbers = [...version.parts!.keys()].filter((n) => n >= start).sort((a, b) => a - b);
    const parts = numbers.slice(0, max).map((n) => {
      const part = version.parts!.get(n)!;
      return {
        fileId: version.fileId,
        partNumber: n,
        contentLength: part.data.length,
        contentSha1: part.sha1,
        uploadTimestamp: part.uploadTimestamp,
      };
    });
    return { body: { parts, nextPartNumber: numbers[max] ?? null }, fileId: version.fileId };
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
