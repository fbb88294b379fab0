import { createHash } from "node:crypto";
import type { EmulatorApi, ApiResult, EmulatorContext } from "./EmulatorApi.js";
import { checkName, type EmulatorKey } from "./EmulatorAuth.js";
import type { StoredVersion } from "./EmulatorBucket.js";
import { badRequest, fileJson, int, optStr, str, type Params } from "./emulatorHttp.js";

/** The large-file calls of the emulator: start, part URLs, finish, cancel, list unfinished files and parts. */
export class EmulatorLargeFiles {
  readonly #ctx: EmulatorContext;
  readonly #api: EmulatorApi;

  constructor(ctx: EmulatorContext, api: EmulatorApi) {
    this.#ctx = ctx;
    this.#api = api;
  }

  /** `b2_start_large_file`. */
  start(p: Params, key: EmulatorKey): ApiResult {
    const bucket = this.#api.bucket(key, str(p, "bucketId"));
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

  /** `b2_get_upload_part_url`. */
  getUploadPartUrl(p: Params, key: EmulatorKey): ApiResult {
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

  /** `b2_finish_large_file`: checks parts (contiguous, SHA-1s, minimum size, at least two) and assembles the file. */
  finish(p: Params, key: EmulatorKey): ApiResult {
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

  /** `b2_cancel_large_file`. */
  cancel(p: Params, key: EmulatorKey): ApiResult {
    const version = this.#unfinished(key, str(p, "fileId"));
    this.#ctx.buckets.get(version.bucketId)!.remove(version.fileId);
    this.#ctx.auth.dropPartUrls(version.fileId);
    return {
      body: { accountId: this.#ctx.auth.accountId, bucketId: version.bucketId, fileId: version.fileId, fileName: version.fileName },
      fileName: version.fileName,
      fileId: version.fileId,
    };
  }

  /** `b2_list_unfinished_large_files`. */
  listUnfinished(p: Params, key: EmulatorKey): ApiResult {
    const bucket = this.#api.bucket(key, str(p, "bucketId"));
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

  /** `b2_list_parts`. */
  listParts(p: Params, key: EmulatorKey): ApiResult {
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

  #unfinished(key: EmulatorKey, fileId: string): StoredVersion {
    const v = this.#api.version(key, fileId);
    if (!v || v.action !== "start") throw badRequest(`No active upload for: ${fileId}`);
    return v;
  }
}
