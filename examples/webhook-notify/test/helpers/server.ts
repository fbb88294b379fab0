import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A local HTTP server on 127.0.0.1 that records every request and answers with `status`. */
export interface HookServer {
  url: string;
  requests: Array<{ method: string; path: string; headers: Record<string, string | string[] | undefined>; body: unknown }>;
  status: number;
  /** Resolves when `count` requests have arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startHookServer(): Promise<HookServer> {
  const waiters: Array<() => void> = [];
  const hooks: HookServer = {
    url: "",
    requests: [],
    status: 204,
    waitFor(count, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${hooks.requests.length} of ${count} webhook requests arrived`)), timeoutMs);
        const check = () => {
          if (hooks.requests.length >= count) {
            clearTimeout(timer);
            resolve();
          } else waiters.push(check);
        };
        check();
      });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => (text += d));
    req.on("end", () => {
      hooks.requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body: JSON.parse(text) });
      res.statusCode = hooks.status;
      res.end();
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  hooks.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/secret-token`;
  return hooks;
}
