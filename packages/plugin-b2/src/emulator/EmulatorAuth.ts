import { randomBytes, timingSafeEqual } from "node:crypto";
import { b2NameProblem } from "../fileNames.js";
import { ApiError, badRequest } from "./emulatorHttp.js";

/** A B2 capability an application key can have. */
export type B2Capability = "listBuckets" | "listFiles" | "readFiles" | "writeFiles" | "deleteFiles" | "shareFiles";

/** Every capability (a key made with no restriction). */
export const ALL_CAPABILITIES: readonly B2Capability[] = ["listBuckets", "listFiles", "readFiles", "writeFiles", "deleteFiles", "shareFiles"];

/** An application key known to the emulator. */
export interface EmulatorKey {
  readonly keyId: string;
  readonly applicationKey: string;
  readonly capabilities: readonly B2Capability[];
  /** The bucket the key is restricted to, or `null`. */
  readonly bucketId: string | null;
  /** The file name prefix the key is restricted to, or `null`. */
  readonly namePrefix: string | null;
}

interface TokenRecord {
  key: EmulatorKey;
  expiresAt: number;
  expired: boolean;
}

/** An upload URL handed out by `b2_get_upload_url` or `b2_get_upload_part_url`. */
export interface UploadUrlRecord {
  readonly id: string;
  readonly kind: "file" | "part";
  readonly bucketId: string;
  readonly fileId: string | null;
  readonly token: string;
  readonly key: EmulatorKey;
  expiresAt: number;
  expired: boolean;
  /** The endpoint rejected an upload: B2 says the URL is no longer valid. */
  dead: boolean;
  /** An upload is running on it right now. */
  busy: boolean;
}

/** Keys, account tokens and upload URLs of the emulator, with B2's expiry rules. */
export class EmulatorAuth {
  readonly accountId: string;
  tokenLifetimeMs: number;
  readonly #keys = new Map<string, EmulatorKey>();
  readonly #tokens = new Map<string, TokenRecord>();
  readonly #uploadUrls = new Map<string, UploadUrlRecord>();

  constructor(tokenLifetimeMs: number) {
    this.accountId = randomBytes(6).toString("hex");
    this.tokenLifetimeMs = tokenLifetimeMs;
  }

  /** Adds an application key. */
  addKey(key: EmulatorKey): void {
    this.#keys.set(key.keyId, key);
  }

  /** `b2_authorize_account`: checks HTTP Basic credentials and issues an account token. */
  authorize(header: string | undefined): { token: string; key: EmulatorKey } {
    const m = /^Basic\s+(\S+)$/i.exec(header ?? "");
    const decoded = m ? Buffer.from(m[1]!, "base64").toString("utf8") : "";
    const colon = decoded.indexOf(":");
    const key = colon > 0 ? this.#keys.get(decoded.slice(0, colon)) : undefined;
    const secret = Buffer.from(decoded.slice(colon + 1));
    const expected = Buffer.from(key?.applicationKey ?? "");
    if (!key || secret.length !== expected.length || !timingSafeEqual(secret, expected)) {
      // Like B2, the answer never repeats what was sent.
      throw new ApiError(401, "bad_auth_token", "invalid application key id or application key");
    }
    const token = `emu_acct_${randomBytes(18).toString("base64url")}`;
    this.#tokens.set(token, { key, expiresAt: Date.now() + this.tokenLifetimeMs, expired: false });
    return { token, key };
  }

  /** Resolves an account token, checking expiry and (optionally) a capability. */
  check(token: string | undefined, capability?: B2Capability): EmulatorKey {
    const record = token ? this.#tokens.get(token) : undefined;
    if (!record) throw new ApiError(401, "bad_auth_token", "Invalid authorization token");
    if (record.expired || Date.now() >= record.expiresAt) {
      record.expired = true;
      throw new ApiError(401, "expired_auth_token", "Authorization token has expired");
    }
    if (capability && !record.key.capabilities.includes(capability)) {
      throw new ApiError(401, "unauthorized", `application key does not have the ${capability} capability`);
    }
    return record.key;
  }

  /** Makes one account token (or upload token) expire now. Returns true if it was known. */
  expire(token: string | undefined): boolean {
    if (!token) return false;
    const record = this.#tokens.get(token);
    if (record) {
      record.expired = true;
      return true;
    }
    for (const url of this.#uploadUrls.values()) {
      if (url.token === token) {
        url.expired = true;
        return true;
      }
    }
    return false;
  }

  /** Makes every account token and upload URL token expire now. */
  expireAll(): void {
    for (const record of this.#tokens.values()) record.expired = true;
    for (const url of this.#uploadUrls.values()) url.expired = true;
  }

  /** Issues an upload URL (and its token) for a bucket or an unfinished large file. */
  newUploadUrl(kind: "file" | "part", bucketId: string, fileId: string | null, key: EmulatorKey): UploadUrlRecord {
    const record: UploadUrlRecord = {
      id: randomBytes(9).toString("hex"),
      kind,
      bucketId,
      fileId,
      token: `emu_upl_${randomBytes(18).toString("base64url")}`,
      key,
      expiresAt: Date.now() + this.tokenLifetimeMs,
      expired: false,
      dead: false,
      busy: false,
    };
    this.#uploadUrls.set(record.id, record);
    return record;
  }

  /** Resolves an upload URL and checks the token presented with it. */
  uploadUrl(id: string, kind: "file" | "part", token: string | undefined): UploadUrlRecord {
    const record = this.#uploadUrls.get(id);
    if (!record || record.kind !== kind || record.token !== token) {
      throw new ApiError(401, "bad_auth_token", "Invalid upload authorization token");
    }
    if (record.expired || Date.now() >= record.expiresAt) {
      record.expired = true;
      throw new ApiError(401, "expired_auth_token", "Upload authorization token has expired");
    }
    return record;
  }

  /** Forgets the upload URLs of a large file that is finished or cancelled. */
  dropPartUrls(fileId: string): void {
    for (const [id, url] of this.#uploadUrls) if (url.fileId === fileId) this.#uploadUrls.delete(id);
  }
}

/** Checks a file name against B2's rules and the key's name prefix restriction. */
export function checkName(key: EmulatorKey, name: string): void {
  const problem = b2NameProblem(name);
  if (problem) throw badRequest(`File names must follow B2's rules: ${problem}`);
  if (key.namePrefix !== null && !name.startsWith(key.namePrefix)) {
    throw new ApiError(401, "unauthorized", "file name is outside the application key's name prefix");
  }
}
