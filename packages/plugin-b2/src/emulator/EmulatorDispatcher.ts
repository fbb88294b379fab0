import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { decodeB2Name } from "../fileNames.js";
import type { EmulatorApi } from "./EmulatorApi.js";
import type { EmulatorAuth } from "./EmulatorAuth.js";
import type { EmulatorDownloads } from "./EmulatorDownloads.js";
import type { EmulatorUploads } from "./EmulatorUploads.js";
import type { FaultInjector } from "./FaultInjector.js";
import { ApiError, ClientAborted, drainBody, readParams, sendError, sendJson } from "./emulatorHttp.js";
import type { EmulatorLogEntry, TransferNotes } from "./emulatorLog.js";
import { routeOf, type Route } from "./emulatorRoutes.js";
import { injectFault } from "./injectFault.js";
import { TRANSACTION_CLASSES, type B2ApiName } from "./transactionClasses.js";

/** What {@link EmulatorDispatcher} hands requests to, and what it reads on the way. */
export interface DispatcherParts {
  readonly auth: EmulatorAuth;
  /** The JSON calls (buckets, listings, large files, hide, delete, file info) and the authorize answer. */
  readonly api: EmulatorApi;
  readonly uploads: EmulatorUploads;
  readonly downloads: EmulatorDownloads;
  readonly faults: FaultInjector;
  /** Fixed extra latency per call, as set now. */
  readonly latency: ReadonlyMap<B2ApiName, number>;
  /** Aborted when the emulator stops: delayed answers are dropped. */
  readonly stopping: AbortSignal;
  readonly baseUrl: () => string;
  /** Called with each call's log entry once the call is answered (or its connection dropped). */
  readonly answered: (entry: EmulatorLogEntry) => void;
}

/**
 * Serves one HTTP request: finds its route, logs the call, waits its extra latency, applies a fault if one is drawn,
 * and hands it to the route's handler (authorize, a JSON call, an upload, a download). Error answers are B2's JSON.
 */
export class EmulatorDispatcher {
  readonly #parts: DispatcherParts;
  readonly #log: EmulatorLogEntry[] = [];
  #seq = 0;
  #pending = 0;

  constructor(parts: DispatcherParts) {
    this.#parts = parts;
  }

  /** Every call served so far, in order of arrival. */
  get log(): readonly EmulatorLogEntry[] {
    return this.#log;
  }

  /** Calls being served right now. */
  get pending(): number {
    return this.#pending;
  }

  /** The sequence number of the last call. */
  get lastSeq(): number {
    return this.#seq;
  }

  /** Answers one request. */
  async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { faults, latency, stopping } = this.#parts;
    const url = new URL(req.url ?? "/", this.#parts.baseUrl());
    const route = routeOf(req.method ?? "GET", url);
    if (!route) {
      await drainBody(req);
      sendError(res, new ApiError(404, "not_found", "no such API"));
      return;
    }
    this.#pending += 1;
    const entry = this.#begin(route, req);
    const notes: TransferNotes = {};
    const named = route.kind === "download" && route.api === "b2_download_file_by_name" ? route.fileName : req.headers["x-bz-file-name"];
    if (typeof named === "string") {
      try {
        notes.fileName = decodeB2Name(named);
      } catch {
        // A malformed name is refused by the handler.
      }
    }
    try {
      const ms = latency.get(route.api);
      if (ms && route.kind !== "upload") await sleep(ms, undefined, { signal: stopping });
      const fault = faults.pick(route.api);
      let resetDownload = false;
      if (fault) {
        entry.fault = fault.kind;
        if (fault.kind === "reset" && route.kind === "download") resetDownload = true;
        else if (await injectFault(fault, route, req, this.#parts.auth, stopping)) return;
      }
      await this.#dispatch(route, url, req, res, entry, notes, resetDownload);
    } catch (err) {
      this.#fail(err, req, res, entry);
    } finally {
      Object.assign(entry, notes);
      entry.status = res.headersSent ? res.statusCode : 0;
      entry.endedAt = Date.now();
      this.#pending -= 1;
      this.#parts.answered(entry);
    }
  }

  /** A new log entry for a call that starts now. */
  #begin(route: Route, req: IncomingMessage): EmulatorLogEntry {
    const entry: EmulatorLogEntry = {
      seq: ++this.#seq,
      api: route.api,
      txClass: TRANSACTION_CLASSES[route.api],
      method: req.method ?? "GET",
      status: 0,
      fault: null,
      billed: 1,
      startedAt: Date.now(),
      endedAt: 0,
    };
    this.#log.push(entry);
    return entry;
  }

  /** An API error is answered as B2 does; anything else is a 500, or a dropped connection once the client left. */
  #fail(err: unknown, req: IncomingMessage, res: ServerResponse, entry: EmulatorLogEntry): void {
    if (err instanceof ApiError) {
      entry.code = err.code;
      sendError(res, err);
    } else if (!(err instanceof ClientAborted) && !this.#parts.stopping.aborted) {
      sendError(res, new ApiError(500, "internal_error", err instanceof Error ? err.message : String(err)));
    } else {
      req.socket.destroy();
    }
  }

  async #dispatch(
    route: Route,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
    entry: EmulatorLogEntry,
    notes: TransferNotes,
    resetDownload: boolean,
  ): Promise<void> {
    switch (route.kind) {
      case "authorize": {
        await drainBody(req);
        const { token, key } = this.#parts.auth.authorize(req.headers.authorization);
        sendJson(res, 200, this.#parts.api.authorizeBody(token, key, route.version));
        return;
      }
      case "json": {
        const params = await readParams(req, url);
        const result = this.#parts.api.call(route.api, params, req.headers.authorization);
        entry.billed = result.billed ?? 1;
        if (result.fileName !== undefined) notes.fileName = result.fileName;
        if (result.fileId !== undefined) notes.fileId = result.fileId;
        sendJson(res, 200, result.body);
        return;
      }
      case "upload":
        return this.#parts.uploads.serve(route, req, res, notes);
      case "download":
        return this.#parts.downloads.serve(route, url, req, res, resetDownload, notes);
    }
  }
}
