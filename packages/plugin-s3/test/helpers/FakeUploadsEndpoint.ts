import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** An incomplete multipart upload the fake store reports. */
export interface FakeUpload {
  key: string;
  uploadId: string;
  /** When aborting it, answer 404 NoSuchUpload (it vanished meanwhile). */
  vanished?: boolean;
}

/**
 * A minimal S3 endpoint for what s3rver lacks: ListMultipartUploads (paginated, `pageSize` per page, honouring
 * `prefix`) and AbortMultipartUpload. It also accepts PutObject. It records every request in order and does not
 * check signatures.
 */
export class FakeUploadsEndpoint {
  readonly requests: { method: string; url: string }[] = [];
  readonly aborted: string[] = [];
  readonly #uploads: FakeUpload[];
  readonly #pageSize: number;
  readonly #server: Server;
  #port = 0;

  private constructor(uploads: FakeUpload[], pageSize: number) {
    this.#uploads = [...uploads].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.uploadId < b.uploadId ? -1 : 1));
    this.#pageSize = pageSize;
    this.#server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://fake");
      this.requests.push({ method: req.method ?? "", url: req.url ?? "" });
      req.resume();
      req.on("end", () => {
        const [status, body] = this.#answer(req.method ?? "", url);
        res.writeHead(status, { "content-type": "application/xml", "content-length": Buffer.byteLength(body), etag: '"0"' });
        res.end(body);
      });
    });
  }

  static async start(uploads: FakeUpload[], pageSize = 2): Promise<FakeUploadsEndpoint> {
    const fake = new FakeUploadsEndpoint(uploads, pageSize);
    await new Promise<void>((resolve) => fake.#server.listen(0, "127.0.0.1", () => resolve()));
    fake.#port = (fake.#server.address() as AddressInfo).port;
    return fake;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #answer(method: string, url: URL): [number, string] {
    const q = url.searchParams;
    if (method === "GET" && q.has("uploads")) return [200, this.#list(q.get("prefix") ?? "", q.get("key-marker"), q.get("upload-id-marker"))];
    if (method === "DELETE" && q.has("uploadId")) {
      const id = q.get("uploadId")!;
      const upload = this.#uploads.find((u) => u.uploadId === id);
      if (!upload || upload.vanished) return [404, error("NoSuchUpload", "The specified upload does not exist.")];
      this.aborted.push(`${decodeURIComponent(url.pathname)}#${id}`);
      return [204, ""];
    }
    if (method === "PUT" && !q.has("uploadId")) return [200, ""];
    return [501, error("NotImplemented", "not in this fake")];
  }

  #list(prefix: string, keyMarker: string | null, uploadIdMarker: string | null): string {
    let candidates = this.#uploads.filter((u) => u.key.startsWith(prefix));
    if (keyMarker !== null) {
      candidates = candidates.filter((u) => u.key > keyMarker || (u.key === keyMarker && uploadIdMarker !== null && u.uploadId > uploadIdMarker));
    }
    const page = candidates.slice(0, this.#pageSize);
    const truncated = candidates.length > page.length;
    const last = page.at(-1);
    const uploads = page
      .map((u) => `<Upload><Key>${u.key}</Key><UploadId>${u.uploadId}</UploadId><Initiated>2024-01-01T00:00:00.000Z</Initiated></Upload>`)
      .join("");
    return (
      `<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
      `<Bucket>b</Bucket><Prefix>${prefix}</Prefix><MaxUploads>${this.#pageSize}</MaxUploads><IsTruncated>${truncated}</IsTruncated>` +
      (truncated && last ? `<NextKeyMarker>${last.key}</NextKeyMarker><NextUploadIdMarker>${last.uploadId}</NextUploadIdMarker>` : "") +
      `${uploads}</ListMultipartUploadsResult>`
    );
  }
}

function error(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
}
