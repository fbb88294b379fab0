import { processSecrets } from "@rtbackup/core";
import { BodyError } from "./hashingBody.js";
import { toB2Failure } from "./B2Failure.js";
import type { B2Session } from "./B2Session.js";

/** An upload URL with its token (from `b2_get_upload_url` or `b2_get_upload_part_url`). */
export interface UploadTarget {
  readonly uploadUrl: string;
  readonly authorizationToken: string;
  readonly fetchedAt: number;
}

// B2 upload URLs live 24 h; leave a margin.
const MAX_URL_AGE_MS = 23 * 3600 * 1000;

/**
 * Upload URLs not in use. An upload takes one for itself (B2: one URL per concurrent upload), gives it back after a
 * success, and drops it after any failure (B2: a URL is valid until the endpoint rejects an upload), so a retry
 * always asks for a new one.
 */
export class UploadUrlPool {
  readonly #idle: UploadTarget[] = [];
  readonly #fetch: () => Promise<UploadTarget>;

  constructor(fetch: () => Promise<UploadTarget>) {
    this.#fetch = fetch;
  }

  /** An idle URL, or a new one. */
  async acquire(): Promise<UploadTarget> {
    for (let target = this.#idle.pop(); target; target = this.#idle.pop()) {
      if (Date.now() - target.fetchedAt < MAX_URL_AGE_MS) return target;
    }
    const target = await this.#fetch();
    processSecrets.addEphemeral(target.authorizationToken);
    return target;
  }

  /** Gives back a URL after a successful upload. */
  release(target: UploadTarget): void {
    this.#idle.push(target);
  }

  /** Forgets every idle URL. */
  clear(): void {
    this.#idle.length = 0;
  }

  /**
   * Runs an upload with B2's upload retry rules: every attempt on its own URL from this pool; after a 401 on the
   * upload token, a 408, 429, 5xx or a broken connection, drop the URL, wait as the session says, and try again on a
   * new one. A {@link BodyError} (the body itself is wrong) is not retried.
   */
  async run<T>(session: B2Session, api: string, key: string, send: (target: UploadTarget) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const target = await this.acquire();
      await session.gate();
      session.count(api);
      try {
        const result = await send(target);
        this.release(target);
        return result;
      } catch (err) {
        if (err instanceof BodyError) throw err.toStorageError(key);
        await session.recover(await toB2Failure(api, err), attempt, { key, uploadToken: true });
      }
    }
  }
}
