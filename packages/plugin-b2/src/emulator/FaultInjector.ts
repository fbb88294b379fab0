import type { B2ApiName } from "./transactionClasses.js";

/**
 * A way a call can fail:
 * - `503` service_unavailable, `500` internal_error, `408` request_timeout;
 * - `500-echo`: a 500 internal_error whose message repeats the request's Authorization header and the start of its
 *   body, as a careless server or proxy does (tests that no credential reaches output);
 * - `429` too_many_requests with a `Retry-After` header;
 * - `401` expired_auth_token: the token the call presented (account or upload token) really expires;
 * - `reset`: the connection is dropped mid-body (mid-request for uploads and calls, mid-response for downloads);
 * - `slow`: the response is delayed by `slowMs` (the call is still carried out, even if the client gave up).
 */
export type FaultKind = "503" | "500" | "500-echo" | "408" | "429" | "401" | "reset" | "slow";

/** Every fault kind. */
export const FAULT_KINDS: readonly FaultKind[] = ["503", "500", "500-echo", "408", "429", "401", "reset", "slow"];

/** Random fault injection. */
export interface FaultOptions {
  /** Probability (0..1) that a call fails. */
  rate: number;
  /** The ways calls fail, one picked at random per failing call. */
  kinds: readonly FaultKind[];
  /** Only these calls fail (default: every call except authorize, which only gets 503/500/500-echo/429/reset/slow). */
  apis?: readonly B2ApiName[];
  /** Delay of a `slow` response (default 2,000 ms). */
  slowMs?: number;
  /** `Retry-After` of a `429` response in seconds (default 1). */
  retryAfterSeconds?: number;
}

/** A fault chosen for one call. */
export interface Fault {
  kind: FaultKind;
  slowMs: number;
  retryAfterSeconds: number;
}

/** Chooses which calls fail: queued one-off faults first, then a seeded random draw. */
export class FaultInjector {
  #options: FaultOptions | undefined;
  readonly #queued = new Map<B2ApiName, Fault[]>();
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0 || 1;
  }

  /** Replaces the random fault configuration (`undefined` turns random faults off). */
  configure(options: FaultOptions | undefined): void {
    if (options && !(options.rate >= 0 && options.rate <= 1)) throw new RangeError("fault rate must be within 0..1");
    this.#options = options;
  }

  /** Makes the next `times` calls of `api` fail with `kind`. */
  failNext(api: B2ApiName, kind: FaultKind, times = 1, extra: { slowMs?: number; retryAfterSeconds?: number } = {}): void {
    const list = this.#queued.get(api) ?? [];
    for (let i = 0; i < times; i++) {
      list.push({ kind, slowMs: extra.slowMs ?? 2000, retryAfterSeconds: extra.retryAfterSeconds ?? 1 });
    }
    this.#queued.set(api, list);
  }

  /** The fault for this call of `api`, if any. */
  pick(api: B2ApiName): Fault | undefined {
    const queued = this.#queued.get(api);
    if (queued?.length) return queued.shift();
    const options = this.#options;
    if (!options || options.kinds.length === 0 || options.rate === 0) return undefined;
    if (options.apis && !options.apis.includes(api)) return undefined;
    if (this.#random() >= options.rate) return undefined;
    let kinds = options.kinds;
    if (api === "b2_authorize_account") {
      kinds = kinds.filter((k) => k !== "401" && k !== "408");
      if (kinds.length === 0) return undefined;
    }
    const kind = kinds[Math.floor(this.#random() * kinds.length)]!;
    return { kind, slowMs: options.slowMs ?? 2000, retryAfterSeconds: options.retryAfterSeconds ?? 1 };
  }

  // mulberry32: small, seedable, good enough to spread faults reproducibly.
  #random(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}
