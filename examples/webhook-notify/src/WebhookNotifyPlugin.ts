import { hostname } from "node:os";
import {
  BadValue,
  PluginOptions,
  booleanKind,
  durationRangeKind,
  integerKind,
  messageOf,
  type BackupPlugin,
  type Engine,
  type FailureInfo,
  type OptionKind,
  type ScanInfo,
} from "@rtbackup/core";

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
  /** Give up on one POST after this long (ms, or an xs:duration string such as `PT10S`). Default 10000. */
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

const KNOWN = ["url", "failureThreshold", "notifyDrift", "headers", "timeoutMs"];

/** An http:// or https:// URL, returned normalized. */
const webhookUrlKind: OptionKind<string> = {
  fromValue(value) {
    let url: URL | undefined;
    try {
      url = typeof value === "string" ? new URL(value) : undefined;
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) throw new BadValue("an http:// or https:// URL");
    return url.href;
  },
};

/** An object of header names to string values, returned as a copy. */
const headersKind: OptionKind<Record<string, string>> = {
  fromValue(value) {
    if (typeof value !== "object" || value === null || Array.isArray(value) || Object.values(value).some((v) => typeof v !== "string")) {
      throw new BadValue("an object of header names to string values");
    }
    return { ...(value as Record<string, string>) };
  },
};

/**
 * Checks raw options with core's {@link PluginOptions}; a bad value throws a ConfigError naming
 * `WebhookNotifyPlugin.options.<option>`. The URL and the headers may carry a token, so errors never show them.
 */
export function parseWebhookNotifyOptions(raw: unknown): WebhookNotifyOptions {
  const o = PluginOptions.read(PLUGIN_NAME, raw, KNOWN, { secret: ["url", "headers"] });
  return {
    url: o.required("url", webhookUrlKind, "an http:// or https:// URL"),
    failureThreshold: o.get("failureThreshold", integerKind(1), 3),
    notifyDrift: o.get("notifyDrift", booleanKind, true),
    headers: o.get("headers", headersKind, {}),
    timeoutMs: o.get("timeoutMs", durationRangeKind(1), 10_000),
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
