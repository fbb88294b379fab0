import { isB2ApiName, type B2ApiName } from "./transactionClasses.js";

/** A request, classified. */
export type Route =
  | { kind: "json"; api: B2ApiName }
  | { kind: "authorize"; api: "b2_authorize_account"; version: number }
  | { kind: "upload"; api: "b2_upload_file" | "b2_upload_part"; urlId: string }
  | { kind: "download"; api: "b2_download_file_by_name"; bucketName: string; fileName: string }
  | { kind: "download"; api: "b2_download_file_by_id" };

/** Which call a request is, from its method and path; `undefined` for anything else. */
export function routeOf(method: string, url: URL): Route | undefined {
  const path = url.pathname;
  if (path.startsWith("/file/")) {
    const rest = path.slice(6);
    const slash = rest.indexOf("/");
    if (slash <= 0 || (method !== "GET" && method !== "HEAD")) return undefined;
    return { kind: "download", api: "b2_download_file_by_name", bucketName: rest.slice(0, slash), fileName: rest.slice(slash + 1) };
  }
  const m = /^\/b2api\/v([1-3])\/(b2_[a-z_]+)(?:\/([^/]+)\/([^/]+))?$/.exec(path);
  if (!m || !isB2ApiName(m[2]!)) return undefined;
  const api = m[2];
  if (api === "b2_upload_file" || api === "b2_upload_part") {
    return m[4] && method === "POST" ? { kind: "upload", api, urlId: m[4] } : undefined;
  }
  if (m[3]) return undefined;
  if (api === "b2_authorize_account") return { kind: "authorize", api, version: Number(m[1]) };
  if (api === "b2_download_file_by_id") return { kind: "download", api };
  if (api === "b2_download_file_by_name") return undefined;
  return { kind: "json", api };
}
