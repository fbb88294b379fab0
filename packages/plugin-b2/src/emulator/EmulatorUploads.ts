import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { decodeB2Name } from "../fileNames.js";
import type { EmulatorApi, EmulatorContext } from "./EmulatorApi.js";
import { checkName, type UploadUrlRecord } from "./EmulatorAuth.js";
import type { StoredVersion } from "./EmulatorBucket.js";
import { ApiError, badRequest, drainBody, fileJson, headerOf, readBody, sendJson } from "./emulatorHttp.js";
import type { TransferNotes } from "./emulatorLog.js";
import type { Route } from "./emulatorRoutes.js";

/** A request to an upload URL. */
export type UploadRoute = Extract<Route, { kind: "upload" }>;

/** Largest single upload or part B2 accepts (5 GB). */
const MAX_UPLOAD_BYTES = 5_000_000_000;

/** The upload routes of the emulator: `b2_upload_file` and `b2_upload_part`, on the URLs handed out for them. */
export class EmulatorUploads {
  readonly #ctx: EmulatorContext;
  readonly #api: EmulatorApi;
  readonly #maxBodyBytes: number;
  readonly #partsInFlight = new Map<string, number>();

  constructor(ctx: EmulatorContext, api: EmulatorApi, maxBodyBytes: number) {
    this.#ctx = ctx;
    this.#api = api;
    this.#maxBodyBytes = maxBodyBytes;
  }

  /** Checks the upload URL and its token, receives the upload and answers it. */
  async serve(route: UploadRoute, req: IncomingMessage, res: ServerResponse, notes: TransferNotes): Promise<void> {
    const kind = route.api === "b2_upload_file" ? "file" : "part";
    const record = this.#ctx.auth.uploadUrl(route.urlId, kind, req.headers.authorization);
    const body = kind === "file" ? await this.#uploadFile(req, record, notes) : await this.#uploadPart(req, record, notes);
    sendJson(res, 200, body);
  }

  /** `b2_upload_file` on an upload URL. */
  async #uploadFile(req: IncomingMessage, record: UploadUrlRecord, notes: TransferNotes): Promise<unknown> {
    return this.#exclusive(req, record, async () => {
      const fileName = this.#fileName(req);
      notes.fileName = fileName;
      checkName(record.key, fileName);
      const bucket = this.#api.bucket(record.key, record.bucketId);
      const { data, sha1 } = await this.#body(req);
      notes.bytes = data.length;
      await this.#ctx.latency("b2_upload_file");
      const info: Record<string, string> = {};
      for (const [header, value] of Object.entries(req.headers)) {
        if (header.startsWith("x-bz-info-") && typeof value === "string") info[header.slice(10)] = decodeB2Name(value);
      }
      if (Object.keys(info).length > 10) throw badRequest("too many X-Bz-Info-* headers (at most 10)");
      const version: StoredVersion = {
        fileId: this.#ctx.newFileId(bucket.bucketId),
        fileName,
        bucketId: bucket.bucketId,
        action: "upload",
        contentType: headerOf(req, "content-type") ?? "application/octet-stream",
        contentSha1: sha1,
        fileInfo: info,
        uploadTimestamp: Date.now(),
        data,
      };
      bucket.add(version);
      notes.fileId = version.fileId;
      return fileJson(version, this.#ctx.auth.accountId);
    });
  }

  /** `b2_upload_part` on an upload part URL. */
  async #uploadPart(req: IncomingMessage, record: UploadUrlRecord, notes: TransferNotes): Promise<unknown> {
    return this.#exclusive(req, record, async () => {
      const fileId = record.fileId!;
      notes.fileId = fileId;
      const version = this.#api.version(record.key, fileId);
      if (!version || version.action !== "start") throw badRequest(`No active upload for: ${fileId}`);
      notes.fileName = version.fileName;
      const partNumber = Number(headerOf(req, "x-bz-part-number"));
      if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10000) {
        throw badRequest("X-Bz-Part-Number must be an integer from 1 to 10000");
      }
      notes.partNumber = partNumber;
      const inFlight = (this.#partsInFlight.get(fileId) ?? 0) + 1;
      this.#partsInFlight.set(fileId, inFlight);
      notes.concurrentParts = inFlight;
      try {
        const { data, sha1 } = await this.#body(req);
        notes.bytes = data.length;
        await this.#ctx.latency("b2_upload_part");
        // The file may have been cancelled while the part was on its way.
        if (version.action !== "start") throw badRequest(`No active upload for: ${fileId}`);
        version.parts!.set(partNumber, { partNumber, sha1, data, uploadTimestamp: Date.now() });
        return { fileId, partNumber, contentLength: data.length, contentSha1: sha1, uploadTimestamp: Date.now() };
      } finally {
        const left = (this.#partsInFlight.get(fileId) ?? 1) - 1;
        if (left === 0) this.#partsInFlight.delete(fileId);
        else this.#partsInFlight.set(fileId, left);
      }
    });
  }

  async #exclusive<T>(req: IncomingMessage, record: UploadUrlRecord, work: () => Promise<T>): Promise<T> {
    if (record.dead) {
      this.#ctx.violation(`upload URL ${record.id} used again after it rejected an upload`);
      await drainBody(req);
      throw new ApiError(503, "service_unavailable", "upload URL is no longer valid: get a new one");
    }
    if (record.busy) {
      this.#ctx.violation(`two uploads at once on upload URL ${record.id}`);
      record.dead = true;
      await drainBody(req);
      throw new ApiError(503, "service_unavailable", "another upload is in progress on this upload URL");
    }
    record.busy = true;
    try {
      return await work();
    } catch (err) {
      // B2: an upload URL is valid until the endpoint rejects an upload.
      record.dead = true;
      throw err;
    } finally {
      record.busy = false;
    }
  }

  #fileName(req: IncomingMessage): string {
    const raw = headerOf(req, "x-bz-file-name");
    if (!raw) throw badRequest("X-Bz-File-Name header is required");
    try {
      return decodeB2Name(raw);
    } catch {
      throw badRequest("X-Bz-File-Name is not properly percent-encoded");
    }
  }

  async #body(req: IncomingMessage): Promise<{ data: Buffer; sha1: string }> {
    if (req.headers["transfer-encoding"]) throw badRequest("chunked transfer encoding is not supported: send Content-Length");
    const declared = headerOf(req, "content-length");
    if (declared === undefined) throw new ApiError(411, "bad_request", "Content-Length header is required");
    const length = Number(declared);
    if (length > Math.min(MAX_UPLOAD_BYTES, this.#maxBodyBytes)) throw badRequest("content is too large");
    const given = headerOf(req, "x-bz-content-sha1");
    if (!given) throw badRequest("X-Bz-Content-Sha1 header is required");
    const raw = await readBody(req, length);
    let data = raw;
    let expected: string | undefined;
    if (given === "hex_digits_at_end") {
      if (raw.length < 40) throw badRequest("body too short to hold the SHA1 at its end");
      data = raw.subarray(0, raw.length - 40);
      expected = raw
        .subarray(raw.length - 40)
        .toString("latin1")
        .toLowerCase();
    } else if (given !== "do_not_verify") {
      expected = given.replace(/^unverified:/, "").toLowerCase();
      if (!/^[0-9a-f]{40}$/.test(expected)) throw badRequest("X-Bz-Content-Sha1 must be 40 hex digits");
    }
    const sha1 = createHash("sha1").update(data).digest("hex");
    if (expected !== undefined && expected !== sha1) throw badRequest("Sha1 did not match data received");
    return { data, sha1 };
  }
}
