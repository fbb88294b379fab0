import type { IncomingMessage, ServerResponse } from "node:http";
import { decodeB2Name, encodeB2Name } from "../fileNames.js";
import type { EmulatorApi, EmulatorContext } from "./EmulatorApi.js";
import type { StoredVersion } from "./EmulatorBucket.js";
import { ApiError, badRequest, drainBody, headerOf, parseRange } from "./emulatorHttp.js";
import type { TransferNotes } from "./emulatorLog.js";
import type { Route } from "./emulatorRoutes.js";

/** A download request: by name (`/file/<bucket>/<name>`) or by id (`b2_download_file_by_id?fileId=`). */
export type DownloadRoute = Extract<Route, { kind: "download" }>;

/** The download routes of the emulator: by name and by id, GET (optionally with `Range`) or HEAD. */
export class EmulatorDownloads {
  readonly #ctx: EmulatorContext;
  readonly #api: EmulatorApi;

  constructor(ctx: EmulatorContext, api: EmulatorApi) {
    this.#ctx = ctx;
    this.#api = api;
  }

  /**
   * Finds the version a download names (token from the `Authorization` header or query parameter) and sends it.
   * `resetMidBody` (the `reset` fault) drops the connection halfway through the body.
   */
  async serve(route: DownloadRoute, url: URL, req: IncomingMessage, res: ServerResponse, resetMidBody: boolean, notes: TransferNotes): Promise<void> {
    await drainBody(req);
    const token = req.headers.authorization ?? url.searchParams.get("Authorization") ?? undefined;
    const version =
      route.api === "b2_download_file_by_name"
        ? this.#versionByName(token, route.bucketName, route.fileName)
        : this.#versionById(token, url.searchParams.get("fileId") ?? "");
    this.#send(req, res, version, resetMidBody, notes);
  }

  /** The version a download by name returns (bucket name and percent-encoded file name from the URL). */
  #versionByName(token: string | undefined, bucketName: string, encodedName: string): StoredVersion {
    const key = this.#api.key(token, "readFiles");
    const bucket = [...this.#ctx.buckets.values()].find((b) => b.bucketName === bucketName);
    if (!bucket) throw new ApiError(404, "not_found", `bucket ${bucketName} does not exist`);
    this.#api.bucket(key, bucket.bucketId);
    let name: string;
    try {
      name = decodeB2Name(encodedName);
    } catch {
      throw badRequest("file name is not properly percent-encoded");
    }
    if (key.namePrefix !== null && !name.startsWith(key.namePrefix)) {
      throw new ApiError(401, "unauthorized", "file name is outside the application key's name prefix");
    }
    const version = bucket.visible(name);
    if (!version) throw new ApiError(404, "not_found", `File with such name does not exist: ${name}`);
    return version;
  }

  /** The version a download by id returns. */
  #versionById(token: string | undefined, fileId: string): StoredVersion {
    const version = this.#api.version(this.#api.key(token, "readFiles"), fileId);
    if (!version || version.action !== "upload") throw new ApiError(404, "not_found", `file not present: ${fileId}`);
    return version;
  }

  #send(req: IncomingMessage, res: ServerResponse, version: StoredVersion, resetMidBody: boolean, notes: TransferNotes): void {
    notes.fileName = version.fileName;
    notes.fileId = version.fileId;
    const size = version.data.length;
    const headers: Record<string, string> = {
      "Content-Type": version.contentType,
      "Accept-Ranges": "bytes",
      "X-Bz-File-Id": version.fileId,
      "X-Bz-File-Name": encodeB2Name(version.fileName),
      "X-Bz-Content-Sha1": version.contentSha1 ?? "none",
      "X-Bz-Upload-Timestamp": String(version.uploadTimestamp),
      "Cache-Control": "max-age=0",
    };
    for (const [k, v] of Object.entries(version.fileInfo)) headers[`X-Bz-Info-${k}`] = encodeURIComponent(v);
    const range = parseRange(headerOf(req, "range"), size);
    if (range === "unsatisfiable") throw new ApiError(416, "range_not_satisfiable", `the range is outside the file (size ${size})`);
    let status = 200;
    let body = version.data;
    if (range) {
      status = 206;
      body = version.data.subarray(range.start, range.end + 1);
      headers["Content-Range"] = `bytes ${range.start}-${range.end}/${size}`;
    }
    headers["Content-Length"] = String(body.length);
    notes.bytes = req.method === "HEAD" ? 0 : body.length;
    res.writeHead(status, headers);
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    if (resetMidBody) {
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy());
      return;
    }
    res.end(body);
  }
}
