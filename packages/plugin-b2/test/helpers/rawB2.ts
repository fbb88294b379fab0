import { createHash } from "node:crypto";
import type { B2Emulator } from "@rtbackup/plugin-b2/emulator";
import { encodeB2Name } from "@rtbackup/plugin-b2";

/** An answer: status, parsed JSON body (or undefined), headers. */
export interface RawAnswer {
  status: number;
  json: any;
  headers: Headers;
}

/** A bare-hands B2 client (fetch), to test the emulator's rules without the backend's retries in the way. */
export class RawB2 {
  readonly #emulator: B2Emulator;
  readonly #credentials: { keyId: string; applicationKey: string };
  token = "";

  constructor(emulator: B2Emulator, credentials = emulator.credentials) {
    this.#emulator = emulator;
    this.#credentials = credentials;
  }

  async authorize(applicationKey = this.#credentials.applicationKey): Promise<RawAnswer> {
    const basic = Buffer.from(`${this.#credentials.keyId}:${applicationKey}`).toString("base64");
    const answer = await toAnswer(await fetch(this.#emulator.authorizeUrl, { headers: { Authorization: `Basic ${basic}` } }));
    if (answer.status === 200) this.token = answer.json.authorizationToken;
    return answer;
  }

  async call(api: string, body: Record<string, unknown>, token = this.token): Promise<RawAnswer> {
    const res = await fetch(`${this.#emulator.url}/b2api/v2/${api}`, {
      method: "POST",
      headers: { Authorization: token, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    return toAnswer(res);
  }

  async uploadTarget(): Promise<{ uploadUrl: string; authorizationToken: string }> {
    const answer = await this.call("b2_get_upload_url", { bucketId: this.#emulator.bucketId });
    if (answer.status !== 200) throw new Error(`get_upload_url: ${answer.status}`);
    return answer.json;
  }

  async upload(
    name: string,
    data: Buffer,
    options: { sha1?: string; target?: { uploadUrl: string; authorizationToken: string }; encodedName?: string } = {},
  ): Promise<RawAnswer> {
    const target = options.target ?? (await this.uploadTarget());
    const res = await fetch(target.uploadUrl, {
      method: "POST",
      headers: {
        Authorization: target.authorizationToken,
        "X-Bz-File-Name": options.encodedName ?? encodeB2Name(name),
        "Content-Type": "b2/x-auto",
        "X-Bz-Content-Sha1": options.sha1 ?? sha1(data),
      },
      body: data,
    });
    return toAnswer(res);
  }

  async startLarge(name: string, fileInfo: Record<string, string> = {}): Promise<string> {
    const answer = await this.call("b2_start_large_file", { bucketId: this.#emulator.bucketId, fileName: name, contentType: "b2/x-auto", fileInfo });
    if (answer.status !== 200) throw new Error(`start_large_file: ${answer.status} ${answer.json?.message}`);
    return answer.json.fileId;
  }

  async uploadPart(fileId: string, partNumber: number, data: Buffer): Promise<RawAnswer> {
    const target = (await this.call("b2_get_upload_part_url", { fileId })).json;
    const res = await fetch(target.uploadUrl, {
      method: "POST",
      headers: { Authorization: target.authorizationToken, "X-Bz-Part-Number": String(partNumber), "X-Bz-Content-Sha1": sha1(data) },
      body: data,
    });
    return toAnswer(res);
  }

  async download(name: string, headers: Record<string, string> = {}, method = "GET"): Promise<{ status: number; body: Buffer; headers: Headers }> {
    const res = await fetch(`${this.#emulator.url}/file/${this.#emulator.bucketName}/${encodeB2Name(name)}`, {
      method,
      headers: { Authorization: this.token, ...headers },
    });
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
  }
}

async function toAnswer(res: Response): Promise<RawAnswer> {
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json, headers: res.headers };
}

/** SHA-1, hex. */
export function sha1(data: Uint8Array): string {
  return createHash("sha1").update(data).digest("hex");
}
