import { hostname } from "node:os";
import { ConfigError, messageOf, type BackupPlugin, type Engine, type FailureInfo, type ScanInfo } from "@rtbackup/core";

const PLUGIN_NAME = "WebhookNotifyPlugin";

/** Options of {@link WebhookNotifyPlugin}. */
export interface WebhookNotifyOptions {
  /** Where to POST (http or https). Treated as a secret: it never appears in logs. */
  readonly url: string;
  /** Notify when a path has failed this many times in a row. Default 3. */
  readonly failureThreshold: number;
  /** Notify when a rescan (any scan but the initial backup) finds changed or deleted paths. Default true. */
  readonly notifyDrift: boolean;
  /** Extra request headers (e.g. `Authorization`); treated as secrets. Default none. */
  readonly headers: Readonly<Record<string, string>>;
  /** Give up on one POST after this long (ms). Default 10000. */
  readonly timeoutMs: number;
}

/** The JSON body of a notification. */
export type WebhookPayload =
  | {
      readonly event: "failure";
      readonly host: string;
      readonly path: string;
      readonly stage: FailureInfo["stage"];
      readonly attempts: number;
      readonly error: string;
      readonly willRetry: boolean;
    }
  | { readonly event: "drift"; readonly host: string; readonly reason: ScanInfo["reason"]; readonly roots: readonly string[]; readonly changed: number };

/** Checks raw options; a bad value throws a ConfigError naming the option. */
export function parseWebhookNotifyOptions(raw: unknown, where = "options"): WebhookNotifyOptions {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ConfigError(where, "expected an object with url");
  const o = raw as Record<string, unknown>;
  const known = new Set(["url", "failureThreshold", "notifyDrift", "headers", "timeoutMs"]);
  for (const key of Object.keys(o)) if (!known.has(key)) throw new ConfigError(`${where}.${key}`, "unknown option");
  let url: URL | undefined;
  try {
    url = typeof o.url === "string" ? new URL(o.url) : undefined;
  } catch {
    url = undefined;
  }
  // The URL may carry a token, so the message never repeats it.
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) throw new ConfigError(`${where}.url`, "expected an http:// or https:// URL");
  const wholeAtLeast1 = (key: string, fallback: number): number => {
    const v = o[key] ?? fallback;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1)
      throw new ConfigError(`${where}.${key}`, `expected a whole number ≥ 1, got ${JSON.stringify(v)}`);
    return v;
  };
  const notifyDrift = o.notifyDrift ?? true;
  if (typeof notifyDrift !== "boolean") throw new ConfigError(`${where}.notifyDrift`, "expected true or false");
  const headers = o.headers ?? {};
  if (typeof headers !== "object" || headers === null || Array.isArray(headers) || Object.values(headers).some((v) => typeof v !== "string")) {
    throw new ConfigError(`${where}.headers`, "expected an object of header names to string values");
  }
  return {
    url: url.href,
    failureThreshold: wholeAtLeast1("failureThreshold", 3),
    notifyDrift,
    headers: { ...(headers as Record<string, string>) },
    timeoutMs: wholeAtLeast1("timeoutMs", 10_000),
  };
}

/**
 * An observer: POSTs a JSON {@link WebhookPayload} when a path fails `failureThreshold` times in a row (`failure`
 * hook: once per run of failures, when `attempts` reaches the threshold) or when a rescan finds drift (`scan` hook,
 * `done` with `changed > 0`, any reason but `initial`). Posting never blocks the pipeline: requests run in the
 * background, a failed POST is logged (without the URL) and dropped, and `shutdown` waits for those in flight.
 */
export class WebhookNotifyPlugin implements BackupPlugin {
  readonly name = PLUGIN_NAME;
  readonly options: WebhookNotifyOptions;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(options: unknown) {
    this.options = parseWebhookNotifyOptions(options);
  }

  apply(engine: Engine): void {
    const log = engine.getLogger(PLUGIN_NAME);
    const host = hostname();
    const send = (payload: WebhookPayload) => {
      const p = this.#post(payload).catch((err: unknown) => log.warn(`webhook for a ${payload.event} notification failed: ${messageOf(err)}`));
      this.#inFlight.add(p);
      void p.finally(() => this.#inFlight.delete(p));
    };
    engine.hooks.failure.tap(PLUGIN_NAME, (failure: FailureInfo) => {
      if (failure.attempts !== this.options.failureThreshold) return;
      send({
        event: "failure",
        host,
        path: failure.path,
        stage: failure.stage,
        attempts: failure.attempts,
        error: messageOf(failure.error),
        willRetry: failure.retryAt !== undefined,
      });
    });
    if (this.options.notifyDrift) {
      engine.hooks.scan.tap(PLUGIN_NAME, (scan) => {
        if (!scan.done || scan.reason === "initial" || !scan.changed) return;
        send({ event: "drift", host, reason: scan.reason, roots: scan.roots, changed: scan.changed });
      });
    }
    engine.hooks.shutdown.tapPromise(PLUGIN_NAME, () => this.flush());
  }

  /** Resolves when every notification already started has been sent or has failed. */
  async flush(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  async #post(payload: WebhookPayload): Promise<void> {
    const response = await fetch(this.options.url, {
      method: "POST",
      headers: { "content-type": "application/json", ...this.options.headers },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(this.options.timeoutMs),
    });
    await response.body?.cancel();
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
  }
}
